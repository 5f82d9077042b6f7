/*
 * test_support_wire.c - helpers of the wire tests (test_wire.c,
 * test_wire_limits.c); see test_support_wire.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nng/nng.h>

#include "ospec/util.h"
#include "ospec/wire.h"
#include "test_support_wire.h"

/* ts_wire_encode_decode encodes env and decodes the bytes again; *out is set
 * only on OSP_OK or OSP_EVERSION, as osp_wire_decode promises. */
osp_err ts_wire_encode_decode(const osp_env *env, osp_env **out, char *err, size_t errlen)
{
	nng_msg *m = NULL;
	osp_err rv;

	assert_int_equal(osp_wire_encode(env, &m), OSP_OK);
	err[0] = '\0';
	rv = osp_wire_decode(nng_msg_body(m), nng_msg_len(m), out, err, errlen);
	nng_msg_free(m);
	if (rv != OSP_OK && rv != OSP_EVERSION)
		assert_null(*out);
	return rv;
}

/* ts_wire_app_state: see test_support_wire.h. */
Ospec__V1__AppState ts_wire_app_state(char *app, char *version)
{
	Ospec__V1__AppState a = { TS_WIRE_BASE(app_state), .app = app, .active_slot = "blue",
		.version = version, .sha256 = TS_WIRE_SHA, .has_generation = 1, .generation = 7,
		.has_running = 1, .running = 1, .has_healthy = 1, .healthy = 1,
		.idle_version = "1.0.0" };

	return a;
}

/* ts_wire_cmds_init: see test_support_wire.h. */
void ts_wire_cmds_init(ts_wire_cmds *w, osp_env *env)
{
	*w = (ts_wire_cmds){
		.noop = { TS_WIRE_BASE(noop), .note = "hello" },
		.stage = { TS_WIRE_BASE(stage), .app = "shop", .version = "1.2.3",
			.artifact_url = "https://artifacts.example.com/shop-1.2.3.tar.gz",
			.sha256 = "ab", .run = "./shop --port {port}", .slot = "green",
			.has_port = 1, .port = 8080, .health_path = "/healthz",
			.has_health_rise = 1, .health_rise = 3, .has_green_port = 1,
			.green_port = 8082 },
		.revert = { TS_WIRE_BASE(revert), .app = "shop", .version = "1.2.2", .sha256 = "cd",
			.run = "./shop", .slot = "main" },
		.stop = { TS_WIRE_BASE(stop), .app = "shop", .slot = "blue" },
		.prep = { TS_WIRE_BASE(switch_prepare), .switch_id = "sw-9", .app = "shop",
			.to_slot = "green", .expect_version = "1.2.3" },
		.dec = { TS_WIRE_BASE(switch_decision), .switch_id = "sw-9", .app = "shop",
			.commit = 1 },
		.sd = { TS_WIRE_BASE(scale_down), .app = "shop", .slot = "blue",
			.slot_generation = 5 },
		.cmds = { TS_WIRE_BASE(commands), .n_entries = 7, .has_log_end = 1, .log_end = 7 },
	};
	for (int i = 0; i < 7; i++) {
		w->c[i] = (Ospec__V1__Command){ TS_WIRE_BASE(command), .seq = (uint64_t)i + 1,
			.has_generation = 1, .generation = 10 + (uint64_t)i,
			.rollout_id = "r-20240101-1",
			.kind_case = OSPEC__V1__COMMAND__KIND_NOOP + i };
		w->cp[i] = &w->c[i];
	}
	w->c[0].noop = &w->noop;
	w->c[1].stage = &w->stage;
	w->c[2].revert = &w->revert;
	w->c[3].stop = &w->stop;
	w->c[4].prepare = &w->prep;
	w->c[5].decision = &w->dec;
	w->c[6].scale_down = &w->sd;
	w->cmds.entries = w->cp;
	osp_wire_env_init(env, NULL, NULL, 5);
	env->body_case = OSPEC__V1__ENVELOPE__BODY_COMMANDS;
	env->commands = &w->cmds;
}

/* ts_wire_teardown: see test_support_wire.h. */
int ts_wire_teardown(void **state)
{
	(void)state;
	nng_fini(); /* nng's threads and caches, so valgrind sees no leak */
	return 0;
}
