/*
 * test_support_rollout_bg.h - helpers over the rollout fixture ts_ro
 * (test_support_rollout.h) for the blue-green tests (test_coord_rollout_bg.c,
 * test_coord_rollout_bg_back.c), prefix ts_bg_: n steps web-1..web-n moving
 * from slot blue to green, driven by events. Like test_support.h, the
 * helpers fail the running cmocka test.
 */
#ifndef TEST_SUPPORT_ROLLOUT_BG_H
#define TEST_SUPPORT_ROLLOUT_BG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_rollout.h"
#include "test_support_rollout.h"

#define TS_BG_SEC 1000
#define TS_BG_MIN10 (10 * 60 * TS_BG_SEC)
#define TS_BG_MIN5 (5 * 60 * TS_BG_SEC)

/* ts_bg_init makes n blue-green steps web-1..web-n, active slot blue running
 * 1.0, staging 2.0 into green; 30s prepare deadline, 5m rollback window,
 * 10m scale-down delay and progress deadline. */
void ts_bg_init(ts_ro *f, size_t n, uint32_t batch, uint32_t max_failures);

/* ts_bg_first_deploy makes step i new to the app: staged into blue, no old slot. */
void ts_bg_first_deploy(ts_ro *f, size_t i);

/* ts_bg_ignored: a result for step i with seq changes nothing. */
void ts_bg_ignored(ts_ro *f, size_t i, uint64_t seq, bool ok, const char *msg);

/* ts_bg_do applies kind, which must succeed. */
void ts_bg_do(ts_ro *f, coord_ro_event_kind kind);

/* ts_bg_none applies kind: err, and no action at all. */
void ts_bg_none(ts_ro *f, coord_ro_event_kind kind, osp_err err);

/* ts_bg_tick moves the clock to now and ticks. */
void ts_bg_tick(ts_ro *f, int64_t now);

/* ts_bg_health reports step i's health (on slot, NULL: any), accepted. */
void ts_bg_health(ts_ro *f, size_t i, bool ok, const char *slot, const char *msg);

/* ts_bg_assert_decided: this event took the decision d: exactly one DECIDE
 * action, before every SEND, each SEND a DECIDE to a member of the switch. */
void ts_bg_assert_decided(const ts_ro *f, coord_ro_decision d, size_t members);

/* ts_bg_stage_all starts the rollout and stages every batch successfully; the
 * last stage opens the forward switch. */
void ts_bg_stage_all(ts_ro *f);

/* ts_bg_vote_all: every member of the switch votes yes. */
void ts_bg_vote_all(ts_ro *f);

/* ts_bg_ack_all: every member of the switch acks the decision, 10 ms apart. */
void ts_bg_ack_all(ts_ro *f);

/* ts_bg_switched brings n nodes to VERIFY through a unanimous forward switch. */
void ts_bg_switched(ts_ro *f, size_t n, uint32_t max_failures);

#endif
