/*
 * test_support_wire.h - helpers of the agent protocol envelope tests
 * (test_wire.c, test_wire_limits.c), prefix ts_wire_. Like test_support.h,
 * the helpers fail the running cmocka test.
 */
#ifndef TEST_SUPPORT_WIRE_H
#define TEST_SUPPORT_WIRE_H

#include <stddef.h>

#include "ospec/err.h"
#include "ospec/wire.h"

/* TS_WIRE_BASE opens a designated initializer of message type ospec.v1.NAME. */
#define TS_WIRE_BASE(name) .base = PROTOBUF_C_MESSAGE_INIT(&ospec__v1__##name##__descriptor)
/* TS_WIRE_SHA is a valid sha256 (64 lowercase hex digits). */
#define TS_WIRE_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ts_wire_encode_decode encodes env and decodes the bytes again (the error
 * text in err, errlen bytes); *out is set only on OSP_OK or OSP_EVERSION, as
 * osp_wire_decode promises (the caller frees it with osp_wire_free). */
osp_err ts_wire_encode_decode(const osp_env *env, osp_env **out, char *err, size_t errlen);

/* ts_wire_app_state returns a valid AppState of app at version (active slot
 * blue, generation 7, running and healthy); the strings are borrowed. */
Ospec__V1__AppState ts_wire_app_state(char *app, char *version);

/* ts_wire_cmds holds one command of every kind, all valid. */
typedef struct ts_wire_cmds {
	Ospec__V1__Command c[7], *cp[7];
	Ospec__V1__Noop noop;
	Ospec__V1__Stage stage;
	Ospec__V1__Revert revert;
	Ospec__V1__Stop stop;
	Ospec__V1__SwitchPrepare prep;
	Ospec__V1__SwitchDecision dec;
	Ospec__V1__ScaleDown sd;
	Ospec__V1__Commands cmds;
} ts_wire_cmds;

/* ts_wire_cmds_init fills w with one valid command of each kind (seq 1..7)
 * and makes env (initialised here) a Commands envelope borrowing them. */
void ts_wire_cmds_init(ts_wire_cmds *w, osp_env *env);

/* ts_wire_teardown is a cmocka group teardown: nng_fini, so that valgrind
 * sees nng's threads and caches freed. */
int ts_wire_teardown(void **state);

#endif
