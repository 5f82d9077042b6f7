/*
 * test_support_agent.h - helpers of the unit tests that drive the agent's
 * command dispatcher without a coordinator (test_agent_apps.c,
 * test_agent_bluegreen*.c, test_agent_checks.c): their fixture (an agent
 * over a fresh state dir, the sample app's releases), the commands they
 * send, running one, reading an app's durable record. Like
 * test_support.h, they fail the running cmocka test on a setup error.
 */
#ifndef TEST_SUPPORT_AGENT_H
#define TEST_SUPPORT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "ospec/v1/agent.pb-c.h"
#include "test_support.h"

#define TS_HELLO_VERSIONS 6 /* hello-1 .. hello-5 (index 0 unused) */

/* ts_agent_alloc opens the agent store in cfg->state (100 results kept) and
 * makes an agent over cfg and it (cfg stays the caller's and must outlive
 * the agent; agent_free frees the agent and its store). */
agent *ts_agent_alloc(const agent_cfg *cfg);

/* A command to the dispatcher and its result, with the buffers the tests'
 * commands point into. Kept in the fixture, not on the heap: a failed
 * assert leaks nothing. */
typedef struct ts_cmd {
	Ospec__V1__Command cmd;
	Ospec__V1__Stage stage;
	Ospec__V1__Revert revert;
	Ospec__V1__Stop stop;
	Ospec__V1__SwitchPrepare prep;
	Ospec__V1__SwitchDecision dec;
	Ospec__V1__ScaleDown sd;
	char version[16];
	char id[32];
	Ospec__V1__CommandResult res;
	char msg[OSP_WIRE_MAX_TEXT];
} ts_cmd;

/* The fixture of a test that drives one agent's command dispatcher. */
typedef struct ts_agent_fx {
	ts_cmd c;        /* here, not on the heap: a failed assert leaks nothing */
	char root[64];   /* the temp dir */
	char state[128]; /* root/state, the agent's state dir */
	char id[16];
	agent_cfg cfg;
	agent *a;
	unsigned blue, green; /* a blue-green app's slot ports, if the test picks them */
	char url[TS_HELLO_VERSIONS][512]; /* of hello-v */
	char sha[TS_HELLO_VERSIONS][TS_SHA256_LEN + 1];
} ts_agent_fx;

/* ts_agent_fx_init fills f (zeroed by the caller): the url and sha256 of
 * every hello-v (ts_hello_artifact), a temp dir made from tmpl
 * (ts_mkdtemp) with state/ in it, the config of node "node-1" keeping 5
 * releases, and the agent over it (ts_agent_alloc). */
void ts_agent_fx_init(ts_agent_fx *f, const char *tmpl);

/* ts_agent_fx_fini frees f's agent (accepts none), kills what a failed test
 * left running (ts_kill_pidfiles) and removes the temp dir; f itself stays
 * the caller's. A test stops its apps gracefully before, if it wants to. */
void ts_agent_fx_fini(ts_agent_fx *f);

/* ts_cmd_init zeroes c and makes c->cmd a command with seq 1 and generation
 * gen; the caller sets its kind. */
void ts_cmd_init(ts_cmd *c, uint64_t gen);

/* ts_cmd_stage makes c a Stage (generation gen) of hello-v for app on port:
 * f's url of hello-v with the sha256 of hello-sha_of (a mismatch on purpose
 * when they differ), run "bin/hello --port {port}", a health check every
 * 100 ms. c's strings point at app (the caller's) and into f and c. */
void ts_cmd_stage(ts_cmd *c, ts_agent_fx *f, const char *app, int v, int sha_of,
	unsigned port, uint64_t gen);

/* ts_cmd_stage_slot makes c a Stage (generation gen) of hello-v (its own
 * sha256) for app into slot blue or green: on f->green for green, else on
 * f->blue, with both slot ports in the command. */
void ts_cmd_stage_slot(ts_cmd *c, ts_agent_fx *f, const char *app, int v, const char *slot,
	uint64_t gen);

/* ts_cmd_prepare makes c a SwitchPrepare (generation gen) of switch id for
 * app to slot, expecting version expect (0: no expected version). */
void ts_cmd_prepare(
	ts_cmd *c, const char *id, const char *app, const char *slot, int expect, uint64_t gen);

/* ts_cmd_decision makes c a SwitchDecision (generation gen) of switch id
 * for app: COMMIT when commit, else ABORT. */
void ts_cmd_decision(ts_cmd *c, const char *id, const char *app, bool commit, uint64_t gen);

/* ts_agent_stop_slots stops app's processes in slots[0..n) gracefully (5 s
 * each), when a and its dispatcher exist: a teardown's first step. */
void ts_agent_stop_slots(agent *a, const char *app, const char *const *slots, size_t n);

/* ts_cmd_run executes c->cmd on a's dispatcher into c->res (its message must
 * be c->msg) and returns the result's status. */
Ospec__V1__ResultStatus ts_cmd_run(agent *a, ts_cmd *c);

/* ts_cmd_expect is ts_cmd_run that fails the test unless the status is
 * want ("status <got>, want <want>: <message>"). */
void ts_cmd_expect(agent *a, ts_cmd *c, Ospec__V1__ResultStatus want);

/* ts_agent_record reads app's durable record from a's store: NULL when there
 * is none; the test fails when it does not decode. Free it with
 * ospec__v1__agent_app_record__free_unpacked. */
Ospec__V1__AgentAppRecord *ts_agent_record(agent *a, const char *app);

#endif
