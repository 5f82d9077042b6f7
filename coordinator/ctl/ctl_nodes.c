/* ctl_nodes.c - nodes, cordon, uncordon, forget, stats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ctl_print_json prints a reply document as it came (one document). */
static void ctl_print_json(const char *json)
{
	printf("%s\n", json ? json : "null");
}

/* ctl_labels_text renders {"k":"v",...} as "k=v,k2=v2". */
static void ctl_labels_text(const osp_json *labels, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; labels != NULL && i < labels->n && off < len; i++) {
		const osp_json *l = labels->items[i];
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", l->key,
			l->str ? l->str : "");
	}
}

static void ctl_apps_text(const osp_json *apps, char *buf, size_t len)
{
	size_t off = 0;

	osp_strlcpy(buf, "-", len);
	for (size_t i = 0; apps != NULL && i < apps->n && off < len; i++) {
		const osp_json *a = apps->items[i];
		const char *slot = osp_json_get_str(a, "active_slot");
		const char *ver = osp_json_get_str(a, "version");
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s%s%s", i ? "," : "",
			osp_json_get_str(a, "app"), ver && ver[0] ? ver : "?",
			slot && slot[0] && strcmp(slot, "main") != 0 ? "@" : "",
			slot && slot[0] && strcmp(slot, "main") != 0 ? slot : "");
	}
}

static void ctl_nodes_table(const osp_json *list)
{
	ctl_table t;
	const char *hdr[] = { "ID", "STATE", "CORDONED", "LABELS", "LAST SEEN", "APPS", "AGENT" };

	ctl_table_init(&t, 7);
	ctl_table_row(&t, hdr);
	for (size_t i = 0; list != NULL && i < list->n; i++) {
		const osp_json *n = list->items[i];
		const osp_json *cord = osp_json_get(n, "cordoned");
		char labels[1024], apps[1024], agent[128];
		const char *row[7];
		const char *ver = osp_json_get_str(n, "agent_version");
		const char *proto = osp_json_get_str(n, "protocol");

		ctl_labels_text(osp_json_get(n, "labels"), labels, sizeof(labels));
		ctl_apps_text(osp_json_get(n, "apps"), apps, sizeof(apps));
		row[0] = osp_json_get_str(n, "id");
		row[1] = osp_json_get_str(n, "state");
		row[2] = cord != NULL && cord->b ? "yes" : "no";
		row[3] = labels[0] ? labels : "-";
		row[4] = osp_json_get_str(n, "last_seen");
		row[5] = apps;
		/* "-" for a node that never registered; a coordinator before 0.2
		 * sends no protocol */
		if (ver == NULL || ver[0] == '\0')
			snprintf(agent, sizeof(agent), "-");
		else if (proto != NULL && proto[0] != '\0')
			snprintf(agent, sizeof(agent), "%s (%s)", ver, proto);
		else
			snprintf(agent, sizeof(agent), "%s", ver);
		row[6] = agent;
		ctl_table_row(&t, row);
	}
	ctl_table_print(&t);
	ctl_table_fini(&t);
}

int ctl_nodes(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "nodes" };
	char *json = NULL;
	osp_json *j;
	int code;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--select") == 0 && i + 1 < argc) {
			ctl_req_arg(&rq, "select", argv[++i]);
		} else if (strncmp(argv[i], "--select=", 9) == 0) {
			ctl_req_arg(&rq, "select", argv[i] + 9);
		} else {
			ctl_errorf("nodes: unexpected argument '%s'", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	if ((code = ctl_call(c, &rq, &json, NULL, 0)) != CTL_EXIT_OK) {
		free(json);
		return code;
	}
	if (c->json) {
		ctl_print_json(json);
	} else if ((j = ctl_parse_json(json)) != NULL) {
		ctl_nodes_table(j);
		osp_json_free(j);
	} else {
		code = CTL_EXIT_FAILED;
	}
	free(json);
	return code;
}

/* ctl_node_verb runs a mutating verb that takes exactly one NODE. */
static int ctl_node_verb(const ctl *c, const char *verb, const char *done, int argc,
	char **argv)
{
	ctl_req rq = { .verb = verb, .mutates = true };
	char *json = NULL;
	int code;

	if (argc != 2 || argv[1][0] == '-') {
		ctl_errorf("%s: expected exactly one NODE (see 'ospecctl %s --help')", verb, verb);
		return CTL_EXIT_USAGE;
	}
	ctl_req_arg(&rq, "node", argv[1]);
	code = ctl_call(c, &rq, &json, NULL, 0);
	if (code == CTL_EXIT_OK) {
		if (c->json)
			ctl_print_json(json);
		else
			printf("node '%s' %s\n", argv[1], done);
	}
	free(json);
	return code;
}

int ctl_cordon(const ctl *c, int argc, char **argv)
{
	return ctl_node_verb(c, "cordon", "cordoned", argc, argv);
}

int ctl_uncordon(const ctl *c, int argc, char **argv)
{
	return ctl_node_verb(c, "uncordon", "uncordoned", argc, argv);
}

int ctl_forget(const ctl *c, int argc, char **argv)
{
	return ctl_node_verb(c, "forget", "forgotten", argc, argv);
}

int ctl_stats(const ctl *c, int argc, char **argv)
{
	ctl_req rq = { .verb = "stats" };
	char *json = NULL;
	osp_json *j;
	int code;

	(void)argv;
	if (argc != 1) {
		ctl_errorf("stats: takes no arguments");
		return CTL_EXIT_USAGE;
	}
	if ((code = ctl_call(c, &rq, &json, NULL, 0)) != CTL_EXIT_OK) {
		free(json);
		return code;
	}
	if (c->json) {
		ctl_print_json(json);
	} else if ((j = ctl_parse_json(json)) != NULL) {
		for (size_t i = 0; i < j->n; i++)
			printf("%-16s %lld\n", j->items[i]->key, (long long)j->items[i]->i);
		osp_json_free(j);
	}
	free(json);
	return code;
}
