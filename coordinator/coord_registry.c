/* coord_registry.c - nodes and connections in memory; liveness by heartbeat. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"

/* Nodes and connections are indexed by id in chained hash tables (coord.h:
 * node_tab, pipe_tab) that double when they hold more entries than buckets;
 * the lists stay for walks in order. */
#define COORD_TAB_MIN 64

size_t coord_hash_id(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h;
}

static size_t coord_pipe_hash(uint32_t id)
{
	return (size_t)(id * 2654435761u);
}

/* What a table needs to know of its entries: where their bucket link is,
 * and their hash. */
typedef struct coord_tab_ops {
	size_t link;
	size_t (*hash)(const void *e);
} coord_tab_ops;

static size_t coord_tab_node_hash(const void *e)
{
	return coord_hash_id(((const coord_node *)e)->id);
}

static size_t coord_tab_pipe_hash(const void *e)
{
	return coord_pipe_hash(((const coord_pipe *)e)->id);
}

static const coord_tab_ops coord_tab_nodes = { offsetof(coord_node, hnext), coord_tab_node_hash };
static const coord_tab_ops coord_tab_pipes = { offsetof(coord_pipe, hnext), coord_tab_pipe_hash };

static void **coord_tab_link(const coord_tab_ops *o, void *e)
{
	return (void **)((char *)e + o->link);
}

/* coord_tab_head is the first entry of the bucket of hash h (NULL if none). */
static void *coord_tab_head(const coord_tab *t, size_t h)
{
	return t->nb == 0 ? NULL : t->b[h & (t->nb - 1)];
}

/* coord_tab_grow makes room in t for n entries (doubling, rehashing what
 * it holds); false without memory (t unchanged). */
static bool coord_tab_grow(const coord_tab_ops *o, coord_tab *t, size_t n)
{
	size_t nb = t->nb ? t->nb : COORD_TAB_MIN, h;
	void **b;

	while (n > nb)
		nb *= 2;
	if (nb == t->nb)
		return true;
	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return false;
	for (size_t i = 0; i < t->nb; i++) {
		for (void *x = t->b[i], *next; x != NULL; x = next) {
			next = *coord_tab_link(o, x);
			h = o->hash(x) & (nb - 1);
			*coord_tab_link(o, x) = b[h];
			b[h] = x;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return true;
}

/* coord_tab_add adds e to t, doubling t first when full; false without
 * memory (e is not added). */
static bool coord_tab_add(const coord_tab_ops *o, coord_tab *t, void *e)
{
	size_t h;

	if (!coord_tab_grow(o, t, t->n + 1))
		return false;
	h = o->hash(e) & (t->nb - 1);
	*coord_tab_link(o, e) = t->b[h];
	t->b[h] = e;
	t->n++;
	return true;
}

/* coord_tab_del takes e out of t (nothing if it is not in). */
static void coord_tab_del(const coord_tab_ops *o, coord_tab *t, void *e)
{
	if (t->nb == 0)
		return;
	for (void **pp = &t->b[o->hash(e) & (t->nb - 1)]; *pp != NULL; pp = coord_tab_link(o, *pp)) {
		if (*pp == e) {
			*pp = *coord_tab_link(o, e);
			t->n--;
			return;
		}
	}
}

static void coord_tab_fini(coord_tab *t)
{
	free(t->b);
	memset(t, 0, sizeof(*t));
}

coord_node *coord_node_find(coord *c, const char *id)
{
	for (coord_node *n = coord_tab_head(&c->node_tab, coord_hash_id(id)); n != NULL;
		n = n->hnext)
		if (strcmp(n->id, id) == 0)
			return n;
	return NULL;
}

coord_node *coord_node_alloc(const char *id, const char *uuid)
{
	coord_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	osp_strlcpy(n->id, id, sizeof(n->id));
	osp_strlcpy(n->uuid, uuid ? uuid : "", sizeof(n->uuid));
	n->state = COORD_NODE_DOWN;
	return n;
}

bool coord_node_reserve(coord *c, size_t more)
{
	return coord_tab_grow(&coord_tab_nodes, &c->node_tab, c->node_tab.n + more);
}

bool coord_node_link(coord *c, coord_node *n)
{
	coord_node **pp = &c->nodes;

	if (!coord_tab_add(&coord_tab_nodes, &c->node_tab, n))
		return false;
	/* keep the list sorted by id: listings come out in order */
	while (*pp != NULL && strcmp((*pp)->id, n->id) < 0)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	return true;
}

coord_node *coord_node_add(coord *c, const char *id, const char *uuid)
{
	coord_node *n = coord_node_alloc(id, uuid);

	if (n != NULL && !coord_node_link(c, n)) {
		free(n);
		return NULL;
	}
	return n;
}

static void coord_node_free(coord_node *n)
{
	osp_labels_fini(&n->labels);
	coord_node_set_apps(n, NULL, 0);
	free(n);
}

void coord_node_remove(coord *c, coord_node *n)
{
	for (coord_node **pp = &c->nodes; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	coord_tab_del(&coord_tab_nodes, &c->node_tab, n);
	for (coord_pipe *p = c->pipes; p != NULL; p = p->next)
		if (p->node == n)
			p->node = NULL;
	for (coord_ctx *x = c->ctxs; x != NULL; x = x->next) {
		if (x->held_node == n) {
			x->held_node = NULL; /* answered empty at its deadline */
			x->held_next = NULL;
		}
	}
	coord_node_free(n);
}

void coord_node_set_apps(coord_node *n, Ospec__V1__AppState **apps, size_t napps)
{
	for (size_t i = 0; i < n->n_apps; i++)
		ospec__v1__app_state__free_unpacked(n->apps[i], NULL);
	free(n->apps);
	n->apps = NULL;
	n->n_apps = 0;
	if (napps == 0)
		return;
	if ((n->apps = calloc(napps, sizeof(*n->apps))) == NULL)
		return;
	/* deep copies through pack/unpack: the source belongs to a message */
	for (size_t i = 0; i < napps; i++) {
		size_t len = ospec__v1__app_state__get_packed_size(apps[i]);
		uint8_t *buf = malloc(len ? len : 1);
		if (buf == NULL)
			break;
		ospec__v1__app_state__pack(apps[i], buf);
		n->apps[n->n_apps] = ospec__v1__app_state__unpack(NULL, len, buf);
		free(buf);
		if (n->apps[n->n_apps] != NULL)
			n->n_apps++;
	}
}

bool coord_node_apps_differ(const coord_node *n, Ospec__V1__AppState **apps, size_t napps)
{
	uint8_t x[1024], y[1024], *hx = NULL, *hy = NULL;
	bool differ = n->n_apps != napps;

	for (size_t i = 0; i < napps && !differ; i++) {
		size_t a = ospec__v1__app_state__get_packed_size(apps[i]);
		uint8_t *px = x, *py = y;

		if (a != ospec__v1__app_state__get_packed_size(n->apps[i])) {
			differ = true;
			break;
		}
		/* with its env names (1.2) an app's state may be ~9 KiB */
		if (a > sizeof(x)) {
			free(hx);
			free(hy);
			hx = malloc(a);
			hy = malloc(a);
			if (hx == NULL || hy == NULL) {
				differ = true; /* counts as changed: saved again */
				break;
			}
			px = hx;
			py = hy;
		}
		ospec__v1__app_state__pack(apps[i], px);
		ospec__v1__app_state__pack(n->apps[i], py);
		differ = memcmp(px, py, a) != 0;
	}
	free(hx);
	free(hy);
	return differ;
}

bool coord_node_mark_up(coord_node *n)
{
	n->last_seen_mono = osp_now_mono_ms();
	n->last_seen_wall = osp_now_wall_ms();
	if (n->state == COORD_NODE_UP)
		return false;
	n->state = COORD_NODE_UP;
	OSP_INFO("COORD-NODE-UP", "node '%s' is up", n->id);
	return true;
}

void coord_node_seen(coord *c, coord_node *n)
{
	osp_txn *t = NULL;

	if (!coord_node_mark_up(n))
		return;
	if (osp_store_txn_begin(c->store, true, &t) != OSP_OK)
		return;
	if (coord_db_event(c, t, "node.up", n->id, NULL, NULL, "coordinator", "node is up") ==
		OSP_OK)
		coord_db_commit(c, t, "node event");
	else
		osp_store_txn_abort(t);
}

void coord_registry_tick(coord *c, int64_t now_mono)
{
	int64_t limit = 3 * c->cfg.heartbeat;

	for (coord_node *n = c->nodes; n != NULL; n = n->next) {
		osp_txn *t = NULL;

		if (n->state != COORD_NODE_UP || now_mono - n->last_seen_mono <= limit)
			continue;
		n->state = COORD_NODE_DOWN;
		OSP_WARN("COORD-NODE-DOWN", "node '%s' missed 3 heartbeats", n->id);
		if (osp_store_txn_begin(c->store, true, &t) != OSP_OK)
			continue;
		if (coord_db_event(c, t, "node.down", n->id, NULL, NULL, "coordinator",
			    "missed 3 heartbeats") == OSP_OK &&
			coord_db_save_node(c, t, n) == OSP_OK)
			coord_db_commit(c, t, "node event");
		else
			osp_store_txn_abort(t);
	}
}

void coord_registry_free(coord *c)
{
	while (c->nodes != NULL) {
		coord_node *n = c->nodes;
		c->nodes = n->next;
		coord_node_free(n);
	}
	while (c->pipes != NULL) {
		coord_pipe *p = c->pipes;
		c->pipes = p->next;
		free(p);
	}
	coord_tab_fini(&c->node_tab);
	coord_tab_fini(&c->pipe_tab);
	c->n_unreg = 0;
}

coord_pipe *coord_pipe_get(coord *c, uint32_t id, bool create)
{
	coord_pipe *p;

	for (p = coord_tab_head(&c->pipe_tab, coord_pipe_hash(id)); p != NULL; p = p->hnext)
		if (p->id == id)
			return p;
	if (!create || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->id = id;
	p->added_mono = p->last_mono = osp_now_mono_ms();
	if (!coord_tab_add(&coord_tab_pipes, &c->pipe_tab, p)) {
		free(p);
		return NULL;
	}
	p->next = c->pipes;
	c->pipes = p;
	c->n_unreg++;
	return p;
}

void coord_pipe_registered(coord *c, coord_pipe *p)
{
	if (p->registered_once)
		return;
	p->registered_once = true;
	c->n_unreg--;
}

void coord_pipe_drop(coord *c, uint32_t id)
{
	coord_pipe *p = coord_pipe_get(c, id, false);

	if (p == NULL)
		return;
	coord_tab_del(&coord_tab_pipes, &c->pipe_tab, p);
	for (coord_pipe **pp = &c->pipes; *pp != NULL; pp = &(*pp)->next) {
		if (*pp != p)
			continue;
		*pp = p->next;
		if (!p->registered_once)
			c->n_unreg--;
		if (p->node != NULL && p->node->pipe_id == id)
			p->node->pipe_id = 0;
		free(p);
		return;
	}
}

bool coord_pipe_seen_msg(coord_pipe *p, uint64_t msg_id)
{
	if (msg_id > p->max_msg_id) {
		uint64_t shift = msg_id - p->max_msg_id;
		p->window = shift >= 64 ? 0 : p->window << shift;
		p->window |= 1;
		p->max_msg_id = msg_id;
		return true;
	}
	if (p->max_msg_id - msg_id >= 64)
		return false; /* too old to tell: treat as a replay */
	if (p->window & (1ULL << (p->max_msg_id - msg_id)))
		return false;
	p->window |= 1ULL << (p->max_msg_id - msg_id);
	return true;
}
