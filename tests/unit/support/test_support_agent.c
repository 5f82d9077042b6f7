/*
 * test_support_agent.c - the unit tests' helpers around the agent's command
 * dispatcher (test_support_agent.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "agent_runner.h"
#include "ospec/util.h"
#include "test_support_agent.h"

agent *ts_agent_alloc(const agent_cfg *cfg)
{
	agent_store *store = NULL;
	agent *a = NULL;
	char err[512] = "";

	if (agent_store_lmdb_open(cfg->state, 100, false, &store, err, sizeof(err)) != OSP_OK)
		fail_msg("store: %s", err);
	if (agent_alloc(cfg, store, &a, err, sizeof(err)) != OSP_OK)
		fail_msg("agent: %s", err);
	return a;
}

void ts_cmd_init(ts_cmd *c, uint64_t gen)
{
	memset(c, 0, sizeof(*c));
	ospec__v1__command__init(&c->cmd);
	c->cmd.seq = 1;
	c->cmd.has_generation = 1;
	c->cmd.generation = gen;
}

void ts_agent_fx_init(ts_agent_fx *f, const char *tmpl)
{
	for (int v = 1; v < TS_HELLO_VERSIONS; v++)
		ts_hello_artifact(v, f->url[v], sizeof(f->url[v]), f->sha[v], sizeof(f->sha[v]));
	ts_mkdtemp(f->root, sizeof(f->root), tmpl);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	assert_int_equal(mkdir(f->state, 0700), 0);
	snprintf(f->id, sizeof(f->id), "node-1");
	f->cfg.id = f->id;
	f->cfg.state = f->state;
	f->cfg.keep_releases = 5;
	f->a = ts_agent_alloc(&f->cfg);
}

void ts_agent_fx_fini(ts_agent_fx *f)
{
	agent_free(f->a);
	f->a = NULL;
	ts_kill_pidfiles(f->state);
	ts_rmtree(f->root);
}

void ts_cmd_stage(ts_cmd *c, ts_agent_fx *f, const char *app, int v, int sha_of,
	unsigned port, uint64_t gen)
{
	ts_cmd_init(c, gen);
	ospec__v1__stage__init(&c->stage);
	snprintf(c->version, sizeof(c->version), "%d", v);
	c->stage.app = (char *)app;
	c->stage.version = c->version;
	c->stage.artifact_url = f->url[v];
	c->stage.sha256 = f->sha[sha_of];
	c->stage.run = (char *)"bin/hello --port {port}";
	c->stage.has_port = 1;
	c->stage.port = port;
	c->stage.has_health_interval_ms = 1;
	c->stage.health_interval_ms = 100;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_STAGE;
	c->cmd.stage = &c->stage;
}

void ts_cmd_stage_slot(ts_cmd *c, ts_agent_fx *f, const char *app, int v, const char *slot,
	uint64_t gen)
{
	ts_cmd_stage(c, f, app, v, v, strcmp(slot, "green") == 0 ? f->green : f->blue, gen);
	c->stage.slot = (char *)slot;
	c->stage.has_blue_port = c->stage.has_green_port = 1;
	c->stage.blue_port = f->blue;
	c->stage.green_port = f->green;
}

void ts_cmd_prepare(
	ts_cmd *c, const char *id, const char *app, const char *slot, int expect, uint64_t gen)
{
	ts_cmd_init(c, gen);
	ospec__v1__switch_prepare__init(&c->prep);
	osp_strlcpy(c->id, id, sizeof(c->id));
	c->prep.switch_id = c->id;
	c->prep.app = (char *)app;
	c->prep.to_slot = (char *)slot;
	if (expect > 0) {
		snprintf(c->version, sizeof(c->version), "%d", expect);
		c->prep.expect_version = c->version;
	}
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_PREPARE;
	c->cmd.prepare = &c->prep;
}

void ts_cmd_decision(ts_cmd *c, const char *id, const char *app, bool commit, uint64_t gen)
{
	ts_cmd_init(c, gen);
	ospec__v1__switch_decision__init(&c->dec);
	osp_strlcpy(c->id, id, sizeof(c->id));
	c->dec.switch_id = c->id;
	c->dec.app = (char *)app;
	c->dec.commit = commit;
	c->cmd.kind_case = OSPEC__V1__COMMAND__KIND_DECISION;
	c->cmd.decision = &c->dec;
}

void ts_agent_stop_slots(agent *a, const char *app, const char *const *slots, size_t n)
{
	if (a == NULL || a->dispatch == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		agent_runner_stop(agent_dispatch_runner(a->dispatch), app, slots[i], 5000);
}

Ospec__V1__ResultStatus ts_cmd_run(agent *a, ts_cmd *c)
{
	ospec__v1__command_result__init(&c->res);
	agent_dispatch_run(a->dispatch, &c->cmd, &c->res, c->msg, sizeof(c->msg));
	assert_ptr_equal(c->res.message, c->msg);
	return c->res.status;
}

void ts_cmd_expect(agent *a, ts_cmd *c, Ospec__V1__ResultStatus want)
{
	Ospec__V1__ResultStatus got = ts_cmd_run(a, c);

	if (got != want)
		fail_msg("status %d, want %d: %s", (int)got, (int)want, c->msg);
}

Ospec__V1__AgentAppRecord *ts_agent_record(agent *a, const char *app)
{
	Ospec__V1__AgentAppRecord *r;
	void *val = NULL;
	size_t len = 0;

	if (a->store->ops->app_get(a->store, app, &val, &len) != OSP_OK)
		return NULL;
	r = ospec__v1__agent_app_record__unpack(NULL, len, val);
	free(val);
	assert_non_null(r);
	return r;
}
