/* ospecctl.c - the operator's CLI: global flags, verb dispatch, help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define CTL_DEFAULT_URL "ipc:///run/ospec/ctl.sock"

static const ctl_verb ctl_verbs[] = {
	{ "nodes", "[--select K=V,...]", "list the inventory",
		"  --select K=V,...  only nodes with all these labels\n"
		"  columns: id, state (up/down), cordoned, labels, last seen, apps\n",
		ctl_nodes },
	{ "cordon", "NODE", "exclude a node from new rollouts", NULL, ctl_cordon },
	{ "uncordon", "NODE", "include a cordoned node again", NULL, ctl_uncordon },
	{ "forget", "NODE", "remove a node that is gone (its agent must be stopped)",
		"  the node's history stays in the events; an agent that registers later\n"
		"  under the same id starts as a new node\n",
		ctl_forget },
	{ "stats", "", "the coordinator's counters (requests, refused, undecodable...)", NULL,
		ctl_stats },
	{ "logs", "NODE APP [--follow] [--lines N] [--slot S]",
		"an app's captured stdout/stderr on a node (from its agent)", CTL_LOGS_HELP,
		ctl_logs },
	{ "backup", "FILE [--timeout D]", "hot copy of the coordinator's store to FILE (on its machine)",
		CTL_BACKUP_HELP, ctl_backup },
	CTL_ROLLOUT_VERBS
	CTL_OSPEC_VERBS
	CTL_PLAN_VERBS
	{ "certs", "init|issue --dir DIR ...", "make a CA and certificates (local, no coordinator)",
		CTL_CERTS_HELP, ctl_certs },
};
#define CTL_NVERBS (sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))

static void ctl_usage(FILE *out)
{
	fprintf(out,
		"usage: ospecctl [--coordinator URL[,URL...]] [--json] [--cert FILE --key FILE --ca "
		"FILE] VERB [ARGS]\n\n"
		"  --coordinator URL[,URL...]\n"
		"                     control URL (default $OSPEC_COORDINATOR, then %s);\n"
		"                     several: the first that answers as the leader (a standby\n"
		"                     names the leader, which is asked next)\n"
		"  --json             one JSON document on stdout\n"
		"  --cert FILE --key FILE --ca FILE\n"
		"                     for a tls+tcp:// URL: an operator certificate (admin or\n"
		"                     viewer) and the CA (default $OSPEC_CERT, $OSPEC_KEY, $OSPEC_CA)\n"
		"  --version          print the version\n\n"
		"verbs:\n",
		CTL_DEFAULT_URL);
	for (size_t i = 0; i < CTL_NVERBS; i++)
		fprintf(out, "  %-10s %s\n", ctl_verbs[i].name, ctl_verbs[i].help);
	fprintf(out,
		"\n'ospecctl VERB --help' tells more. Exit codes: 0 ok, 1 failed, 2 usage,\n"
		"3 coordinator unreachable, 4 not found, 5 wait timed out.\n");
}

bool ctl_verb_help(const ctl_verb *v, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: ospecctl [--coordinator URL] [--json] %s %s\n\n%s\n", v->name,
				v->usage, v->help);
			if (v->details != NULL)
				printf("\n%s", v->details);
			return true;
		}
	}
	return false;
}

/* ctl_main_file_flag takes "--cert/--key/--ca FILE" (or "=FILE") at argv[*i]. */
static bool ctl_main_file_flag(int argc, char **argv, int *i, ctl *c)
{
	static const char *const names[] = { "--cert", "--key", "--ca" };
	const char **dst[] = { &c->cert, &c->key, &c->ca };

	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(names[k]);
		if (strncmp(argv[*i], names[k], n) != 0)
			continue;
		if (argv[*i][n] == '=') {
			*dst[k] = argv[*i] + n + 1;
			return true;
		}
		if (argv[*i][n] == '\0' && *i + 1 < argc) {
			*dst[k] = argv[++*i];
			return true;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	ctl c = { 0 };
	int i;

	c.cert = getenv("OSPEC_CERT");
	c.key = getenv("OSPEC_KEY");
	c.ca = getenv("OSPEC_CA");
	c.url = getenv("OSPEC_COORDINATOR");
	if (c.url == NULL || c.url[0] == '\0')
		c.url = CTL_DEFAULT_URL;
	c.is_tty = isatty(STDOUT_FILENO);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "--coordinator") == 0 && i + 1 < argc) {
			c.url = argv[++i];
		} else if (strncmp(argv[i], "--coordinator=", 14) == 0) {
			c.url = argv[i] + 14;
		} else if (ctl_main_file_flag(argc, argv, &i, &c)) {
			continue;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("ospecctl %s\n", OSPEC_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ctl_usage(stdout);
			return 0;
		} else {
			ctl_errorf("unknown option '%s'", argv[i]);
			ctl_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!ctl_urls_parse(&c))
		return CTL_EXIT_USAGE;
	for (size_t v = 0; v < CTL_NVERBS; v++) {
		if (strcmp(ctl_verbs[v].name, argv[i]) != 0)
			continue;
		if (ctl_verb_help(&ctl_verbs[v], argc - i, argv + i))
			return 0;
		return ctl_verbs[v].run(&c, argc - i, argv + i);
	}
	ctl_errorf("unknown verb '%s' (see 'ospecctl --help')", argv[i]);
	return CTL_EXIT_USAGE;
}
