/* fault.c - crash points for tests (see fault.h). */
#include "ospec/fault.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ospec/log.h"

static const char *osp_fault_name;
static pthread_once_t osp_fault_once = PTHREAD_ONCE_INIT;

static void osp_fault_init(void)
{
	osp_fault_name = getenv("OSPEC_CRASH_POINT");
}

void osp_fault_point(const char *name)
{
	pthread_once(&osp_fault_once, osp_fault_init);
	if (osp_fault_name == NULL || strcmp(osp_fault_name, name) != 0)
		return;
	OSP_WARN("OSP-CRASH-POINT", "crash point '%s' reached: killing this process", name);
	raise(SIGKILL);
}
