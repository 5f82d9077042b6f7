/* ctl_certs.c - "ospecctl certs init|issue": a CA and certificates, locally. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ospec/certs.h"

/* ctl_certs_opts holds the flags of both sub-verbs. */
typedef struct ctl_certs_opts {
	const char *dir, *name, *ip;
	const char *node, *coordinator, *admin, *viewer;
	int days;
	bool force;
} ctl_certs_opts;

/* ctl_certs_flag matches "--name VALUE" or "--name=VALUE" at argv[*i]. */
static bool ctl_certs_flag(int argc, char **argv, int *i, const char *name, const char **out,
	bool *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return false;
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n] != '\0')
		return false;
	if (*i + 1 >= argc) {
		*missing = true;
		return true;
	}
	*out = argv[++*i];
	return true;
}

/* ctl_certs_parse reads the flags after "certs init|issue"; exit code or -1. */
static int ctl_certs_parse(int argc, char **argv, ctl_certs_opts *o)
{
	const char *days = NULL;
	uint64_t d;

	for (int i = 2; i < argc; i++) {
		bool missing = false;

		if (strcmp(argv[i], "--force") == 0) {
			o->force = true;
			continue;
		}
		if (!ctl_certs_flag(argc, argv, &i, "--dir", &o->dir, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--name", &o->name, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--ip", &o->ip, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--days", &days, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--node", &o->node, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--coordinator", &o->coordinator, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--admin", &o->admin, &missing) &&
			!ctl_certs_flag(argc, argv, &i, "--viewer", &o->viewer, &missing)) {
			ctl_errorf("certs: unknown argument '%s' (see 'ospecctl certs --help')",
				argv[i]);
			return CTL_EXIT_USAGE;
		}
		if (missing) {
			ctl_errorf("certs: %s needs a value", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	if (o->dir == NULL) {
		ctl_errorf("certs: --dir DIR is required");
		return CTL_EXIT_USAGE;
	}
	if (days != NULL) {
		if (osp_u64_parse(days, 1, 36500, &d) != OSP_OK) {
			ctl_errorf("certs: --days: expected 1..36500, got '%s'", days);
			return CTL_EXIT_USAGE;
		}
		o->days = (int)d;
	}
	return -1;
}

static int ctl_certs_init(const ctl_certs_opts *o)
{
	char err[512];
	osp_err rv;

	if (o->node || o->coordinator || o->admin || o->viewer || o->ip) {
		ctl_errorf("certs init: takes --dir, --name, --days and --force only");
		return CTL_EXIT_USAGE;
	}
	rv = osp_certs_init(o->dir, o->name, o->days, o->force, err, sizeof(err));
	if (rv != OSP_OK) {
		ctl_errorf("certs init: %s", err);
		return rv == OSP_EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAILED;
	}
	printf("%s/ca.pem\n%s/ca.key\n", o->dir, o->dir);
	return CTL_EXIT_OK;
}

static int ctl_certs_issue(const ctl_certs_opts *o)
{
	osp_cert_req req = { 0 };
	char cert[1024], key[1024], err[512];
	int kinds = 0;
	osp_err rv;

	if (o->node) {
		req.kind = OSP_CERT_NODE;
		req.name = o->node;
		kinds++;
	}
	if (o->coordinator) {
		req.kind = OSP_CERT_COORDINATOR;
		req.name = o->coordinator;
		kinds++;
	}
	if (o->admin) {
		req.kind = OSP_CERT_ADMIN;
		req.name = o->admin;
		kinds++;
	}
	if (o->viewer) {
		req.kind = OSP_CERT_VIEWER;
		req.name = o->viewer;
		kinds++;
	}
	if (kinds != 1 || o->name != NULL) {
		ctl_errorf("certs issue: give exactly one of --node ID, --coordinator NAME, "
			   "--admin NAME, --viewer NAME");
		return CTL_EXIT_USAGE;
	}
	if (o->ip != NULL && req.kind != OSP_CERT_COORDINATOR) {
		ctl_errorf("certs issue: --ip goes with --coordinator");
		return CTL_EXIT_USAGE;
	}
	req.ip = o->ip;
	req.days = o->days;
	rv = osp_certs_issue(o->dir, &req, o->force, cert, key, sizeof(cert), err, sizeof(err));
	if (rv != OSP_OK) {
		ctl_errorf("certs issue: %s", err);
		return rv == OSP_EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAILED;
	}
	printf("%s\n%s\n", cert, key);
	return CTL_EXIT_OK;
}

int ctl_certs(const ctl *c, int argc, char **argv)
{
	ctl_certs_opts o = { 0 };
	int code;

	(void)c;
	if (argc < 2 || (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "issue") != 0)) {
		ctl_errorf("certs: expected 'init' or 'issue' (see 'ospecctl certs --help')");
		return CTL_EXIT_USAGE;
	}
	if ((code = ctl_certs_parse(argc, argv, &o)) >= 0)
		return code;
	return strcmp(argv[1], "init") == 0 ? ctl_certs_init(&o) : ctl_certs_issue(&o);
}
