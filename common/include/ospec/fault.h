/*
 * fault.h - crash points for tests: OSPEC_CRASH_POINT=name makes the process
 * kill itself with SIGKILL when it reaches osp_fault_point("name"), so a test
 * can crash a daemon at an exact step ("after the switch decision is
 * committed, before any node heard it"). Unset, it costs one getenv at the
 * first call.
 */
#ifndef OSPEC_FAULT_H
#define OSPEC_FAULT_H

/* osp_fault_point kills the process if OSPEC_CRASH_POINT equals name. */
void osp_fault_point(const char *name);

#endif
