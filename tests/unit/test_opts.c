/* test_opts.c - table-driven flags bound to a YAML config file; ranges of
 * durations and sizes, paths that may not be empty, URL forms, lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ospec/labels.h"
#include "ospec/opts.h"

typedef struct test_tls {
	char *ca;
	char *cert;
} test_tls;

typedef struct test_conf {
	char *config;
	char *data;
	char *log_level;
	int64_t heartbeat;
	uint64_t max_body;
	uint64_t workers;
	bool verbose;
	osp_labels labels;
	test_tls tls;
} test_conf;

static osp_err tls_read(void *target, const osp_cfg_doc *doc, const osp_cfg_node *node,
	char *err, size_t errlen)
{
	test_tls *t = target;
	const char *s;
	osp_err rv;

	if (node->kind != OSP_CFG_MAP)
		return osp_cfg_errorf(doc, node, "tls", err, errlen, "expected a map {ca, cert}");
	for (size_t i = 0; i < node->n; i++) {
		const osp_cfg_node *it = node->items[i];
		char path[64];
		char **dst = strcmp(it->key, "ca") == 0 ? &t->ca :
			strcmp(it->key, "cert") == 0 ? &t->cert : NULL;

		snprintf(path, sizeof(path), "tls.%s", it->key);
		if (dst == NULL)
			return osp_cfg_errorf(doc, it, path, err, errlen, "unknown key");
		if ((rv = osp_cfg_str(doc, it, path, 255, &s, err, errlen)) != OSP_OK)
			return rv;
		free(*dst);
		*dst = strdup(s);
	}
	return OSP_OK;
}

static void tls_free(void *target)
{
	test_tls *t = target;

	free(t->ca);
	free(t->cert);
	t->ca = t->cert = NULL;
}

static const char *const levels[] = { "debug", "info", "warn", "error", NULL };

static const osp_opt table[] = {
	{ .name = "config", .short_name = 'c', .type = OSP_OPT_STR,
		.offset = offsetof(test_conf, config), .metavar = "FILE",
		.help = "read settings from FILE", .flag_only = true },
	{ .name = "data", .short_name = 'd', .type = OSP_OPT_STR,
		.offset = offsetof(test_conf, data), .metavar = "DIR", .help = "state directory",
		.defval = "/var/lib/ospec" },
	{ .name = "log-level", .type = OSP_OPT_STR, .offset = offsetof(test_conf, log_level),
		.metavar = "LEVEL", .help = "least severe level logged", .defval = "info",
		.choices = levels },
	{ .name = "heartbeat", .type = OSP_OPT_DURATION, .offset = offsetof(test_conf, heartbeat),
		.metavar = "DURATION", .help = "heartbeat interval", .defval = "5s" },
	{ .name = "max-body", .type = OSP_OPT_SIZE, .offset = offsetof(test_conf, max_body),
		.metavar = "SIZE", .help = "largest request body", .defval = "1MiB" },
	{ .name = "workers", .type = OSP_OPT_UINT, .offset = offsetof(test_conf, workers),
		.metavar = "N", .help = "worker threads", .defval = "4", .min = 1, .max = 64 },
	{ .name = "verbose", .short_name = 'v', .type = OSP_OPT_BOOL,
		.offset = offsetof(test_conf, verbose), .help = "say more" },
	{ .name = "label", .type = OSP_OPT_LABELS, .offset = offsetof(test_conf, labels),
		.metavar = "KEY=VALUE", .help = "a label of this node" },
	{ .name = "tls", .type = OSP_OPT_CUSTOM, .offset = offsetof(test_conf, tls),
		.help = "{ca: FILE, cert: FILE}", .config_only = true, .custom = tls_read,
		.custom_free = tls_free },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

static char err[1024];
static char cfg_path[64];

/* write_config writes text to a fresh temp file named in cfg_path. */
static const char *write_config(const char *text)
{
	int fd;

	if (cfg_path[0] != '\0')
		unlink(cfg_path); /* one temp file at a time */
	snprintf(cfg_path, sizeof(cfg_path), "/tmp/test_opts_XXXXXX");
	fd = mkstemp(cfg_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return cfg_path;
}

static int teardown_config(void **state)
{
	(void)state;
	if (cfg_path[0] != '\0')
		unlink(cfg_path);
	cfg_path[0] = '\0';
	return 0;
}

/* load runs osp_opts_load over a NULL-terminated argument list. */
static osp_err load(test_conf *c, osp_opts_action *action, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	memset(c, 0, sizeof(*c));
	memset(err, 0, sizeof(err));
	argv[argc++] = "prog";
	va_start(ap, action);
	for (char *a = va_arg(ap, char *); a != NULL; a = va_arg(ap, char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return osp_opts_load(table, NOPTS, argc, argv, c, action, err, sizeof(err));
}

/* load_fail asserts a refusal with rv and exactly msg, leaving nothing owned. */
#define load_fail(rv, msg, ...)                                                   \
	do {                                                                      \
		test_conf c_;                                                     \
		osp_opts_action a_;                                               \
		assert_int_equal(load(&c_, &a_, __VA_ARGS__, NULL), (rv));        \
		assert_string_equal(err, (msg));                                  \
		assert_null(c_.data);                                             \
		assert_int_equal(c_.labels.n, 0);                                 \
		assert_null(c_.tls.ca);                                           \
	} while (0)

static void test_opts_defaults(void **state)
{
	test_conf c;
	osp_opts_action action = OSP_OPTS_HELP;

	(void)state;
	assert_int_equal(load(&c, &action, NULL), OSP_OK);
	assert_int_equal(action, OSP_OPTS_RUN);
	assert_null(c.config);
	assert_string_equal(c.data, "/var/lib/ospec");
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.heartbeat, 5000);
	assert_int_equal(c.max_body, 1024 * 1024);
	assert_int_equal(c.workers, 4);
	assert_false(c.verbose);
	assert_int_equal(c.labels.n, 0);
	assert_null(c.tls.ca);
	osp_opts_free(table, NOPTS, &c);
	assert_null(c.data);
	osp_opts_free(table, NOPTS, &c); /* idempotent */
}

static void test_opts_every_type_from_flags(void **state)
{
	test_conf c;
	osp_opts_action action;

	(void)state;
	assert_int_equal(load(&c, &action, "--data=/srv/a", "-d", "/srv/b", "--log-level", "warn",
		"--heartbeat", "500ms", "--max-body=64KiB", "--workers", "64", "--verbose",
		"--label", "region=us-east", "--label=zone=a", NULL), OSP_OK);
	assert_string_equal(c.data, "/srv/b"); /* the last one wins */
	assert_string_equal(c.log_level, "warn");
	assert_int_equal(c.heartbeat, 500);
	assert_int_equal(c.max_body, 65536);
	assert_int_equal(c.workers, 64);
	assert_true(c.verbose);
	assert_int_equal(c.labels.n, 2);
	assert_string_equal(osp_labels_get(&c.labels, "zone"), "a");
	osp_opts_free(table, NOPTS, &c);

	assert_int_equal(load(&c, &action, "-v", "--verbose=off", "-d/srv/c", NULL), OSP_OK);
	assert_false(c.verbose);
	assert_string_equal(c.data, "/srv/c");
	osp_opts_free(table, NOPTS, &c);
}

static void test_opts_file_then_flags(void **state)
{
	test_conf c;
	osp_opts_action action;
	const char *path = write_config("# agent settings\n"
					"data: /srv/from-file\n"
					"log_level: error\n"
					"heartbeat: 2m\n"
					"max_body: 4MiB\n"
					"workers: 8\n"
					"verbose: yes\n"
					"labels: {region: us-east, zone: us-east-1a}\n"
					"tls: {ca: /etc/ca.pem, cert: /etc/node.pem}\n");

	(void)state;
	/* the flag before -c still wins over the file */
	assert_int_equal(load(&c, &action, "--log-level", "debug", "-c", path, "--label", "zone=b",
		"--label", "role=web", NULL), OSP_OK);
	assert_string_equal(c.config, path);
	assert_string_equal(c.data, "/srv/from-file");
	assert_string_equal(c.log_level, "debug");
	assert_int_equal(c.heartbeat, 120000);
	assert_int_equal(c.max_body, 4 * 1024 * 1024);
	assert_int_equal(c.workers, 8);
	assert_true(c.verbose);
	assert_int_equal(c.labels.n, 3);
	assert_string_equal(osp_labels_get(&c.labels, "region"), "us-east");
	assert_string_equal(osp_labels_get(&c.labels, "zone"), "b");
	assert_string_equal(osp_labels_get(&c.labels, "role"), "web");
	assert_string_equal(c.tls.ca, "/etc/ca.pem");
	assert_string_equal(c.tls.cert, "/etc/node.pem");
	osp_opts_free(table, NOPTS, &c);
	assert_null(c.tls.ca);
	assert_null(c.config);
}

static void test_opts_empty_file_keeps_defaults(void **state)
{
	test_conf c;
	osp_opts_action action;
	const char *path = write_config("# nothing set\n");

	(void)state;
	assert_int_equal(load(&c, &action, "--config", path, NULL), OSP_OK);
	assert_string_equal(c.data, "/var/lib/ospec");
	assert_int_equal(c.heartbeat, 5000);
	osp_opts_free(table, NOPTS, &c);
}

static void test_opts_file_wrong_type_located(void **state)
{
	char want[256];
	const char *path = write_config("data: /srv\n"
					"workers: 8\n"
					"heartbeat: soon\n");

	(void)state;
	snprintf(want, sizeof(want),
		"%s:3:12: heartbeat: expected a duration like 500ms, 30s, 5m, got \"soon\"", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("workers: 0\n");
	snprintf(want, sizeof(want), "%s:1:10: workers: expected an integer in 1..64, got \"0\"",
		path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("log_level: loud\n");
	snprintf(want, sizeof(want),
		"%s:1:12: log_level: expected one of debug|info|warn|error, got \"loud\"", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("data: [a, b]\n");
	snprintf(want, sizeof(want), "%s:1:7: data: expected a value of at most 4096 bytes, got a "
		"list", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("verbose:\n");
	snprintf(want, sizeof(want), "%s:1:9: verbose: expected true or false, got nothing", path);
	load_fail(OSP_ECONFIG, want, "-c", path);
}

static void test_opts_file_labels_errors(void **state)
{
	char want[256];
	const char *path = write_config("labels:\n  region: us-east\n  bad key: x\n");

	(void)state;
	snprintf(want, sizeof(want), "%s:3:3: labels.bad key: invalid label key (letters, digits, "
		". _ - / and at most 63 of them, starting with a letter or digit)", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("labels:\n  role: a,b\n");
	snprintf(want, sizeof(want), "%s:2:9: labels.role: invalid label value (up to 63 printable "
		"characters without spaces, , = \" \\)", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("labels: [a=b]\n");
	snprintf(want, sizeof(want), "%s:1:9: labels: expected a map of labels like {region: "
		"us-east, role: web}", path);
	load_fail(OSP_ECONFIG, want, "-c", path);
}

static void test_opts_file_custom_error(void **state)
{
	char want[256];
	const char *path = write_config("data: /srv\ntls:\n  ca: [x]\n");

	(void)state;
	snprintf(want, sizeof(want), "%s:3:7: tls.ca: expected a string of at most 255 bytes, "
		"got a list", path);
	load_fail(OSP_ECONFIG, want, "-c", path);
}

static void test_opts_file_unknown_key(void **state)
{
	char want[256];
	const char *path = write_config("data: /srv\n  # indented comment\ncolour: blue\n");

	(void)state;
	snprintf(want, sizeof(want), "%s:3:1: colour: unknown key", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	/* flags are spelled with '-' in the file as '_' only */
	path = write_config("log-level: info\n");
	snprintf(want, sizeof(want), "%s:1:1: log-level: unknown key", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	/* the config file cannot name another config file; repeatable flags are plural */
	path = write_config("config: /etc/other.yaml\n");
	snprintf(want, sizeof(want), "%s:1:1: config: unknown key", path);
	load_fail(OSP_ECONFIG, want, "-c", path);
	path = write_config("label: {a: b}\n");
	snprintf(want, sizeof(want), "%s:1:1: label: unknown key", path);
	load_fail(OSP_ECONFIG, want, "-c", path);
}

static void test_opts_file_malformed(void **state)
{
	char want[256];
	const char *path = write_config("data: /srv\nworkers: [1\n");

	(void)state;
	snprintf(want, sizeof(want), "%s:3:1: did not find expected ',' or ']' "
		"(while parsing a flow sequence at 2:10)", path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	path = write_config("- data\n- workers\n");
	snprintf(want, sizeof(want), "%s:1:1: expected a map of settings (key: value), got a list",
		path);
	load_fail(OSP_ECONFIG, want, "-c", path);

	load_fail(OSP_ECONFIG, "/nonexistent/agent.yaml: cannot read: No such file or directory",
		"-c", "/nonexistent/agent.yaml");
}

static void test_opts_help_and_version(void **state)
{
	test_conf c;
	osp_opts_action action;

	(void)state;
	assert_int_equal(load(&c, &action, "--help", NULL), OSP_OK);
	assert_int_equal(action, OSP_OPTS_HELP);
	assert_null(c.data); /* nothing applied, nothing to free */
	assert_int_equal(load(&c, &action, "-h", NULL), OSP_OK);
	assert_int_equal(action, OSP_OPTS_HELP);
	assert_int_equal(load(&c, &action, "--workers", "0", "--version", NULL), OSP_OK);
	assert_int_equal(action, OSP_OPTS_VERSION);
	/* the config file is not read for --help */
	assert_int_equal(load(&c, &action, "-c", "/nonexistent.yaml", "--help", NULL), OSP_OK);
	assert_int_equal(action, OSP_OPTS_HELP);
	/* an unknown flag before --help is still an error */
	load_fail(OSP_EINVAL, "unknown option '--bogus'", "--bogus", "--help");
	load_fail(OSP_EINVAL, "option '--help' takes no value", "--help=yes");
}

static void test_opts_unknown_flags(void **state)
{
	(void)state;
	load_fail(OSP_EINVAL, "unknown option '--colour'", "--colour", "blue");
	load_fail(OSP_EINVAL, "unknown option '--colour'", "--colour=blue");
	load_fail(OSP_EINVAL, "unknown option '-x'", "-x");
	load_fail(OSP_EINVAL, "unknown option '--tls'", "--tls", "x"); /* config only */
	load_fail(OSP_EINVAL, "unknown option '--log_level'", "--log_level", "info");
	load_fail(OSP_EINVAL, "unexpected argument 'serve'", "serve");
	load_fail(OSP_EINVAL, "unexpected argument 'false'", "--verbose", "false");
	load_fail(OSP_EINVAL, "unexpected argument '-'", "-");
}

static void test_opts_missing_value(void **state)
{
	(void)state;
	load_fail(OSP_EINVAL, "option '--data' needs a value DIR", "--data");
	load_fail(OSP_EINVAL, "option '-c' needs a value FILE", "-v", "-c");
}

static void test_opts_bad_flag_values(void **state)
{
	(void)state;
	load_fail(OSP_EINVAL, "--heartbeat: expected a duration like 500ms, 30s, 5m, got 'x'",
		"--heartbeat", "x");
	load_fail(OSP_EINVAL, "--workers: expected an integer in 1..64, got '65'", "--workers=65");
	load_fail(OSP_EINVAL, "--max-body: expected a size like 64KiB, 4MiB, got '4MB'",
		"--max-body", "4MB");
	load_fail(OSP_EINVAL, "--log-level: expected one of debug|info|warn|error, got 'INFO'",
		"--log-level", "INFO");
	load_fail(OSP_EINVAL, "--verbose: expected true or false, got 'maybe'", "--verbose=maybe");
	load_fail(OSP_EINVAL, "--label: expected KEY=VALUE (key: letters, digits, . _ - /; value: "
		"up to 63 printable characters without , = \" \\; at most 64 labels), got 'role'",
		"--label", "role");
	/* a bad flag value wins over a good file: the file was read, then freed */
	const char *path = write_config("data: /srv\nlabels: {a: b}\ntls: {ca: /ca.pem}\n");
	load_fail(OSP_EINVAL, "--heartbeat: expected a duration like 500ms, 30s, 5m, got '-1s'",
		"-c", path, "--heartbeat", "-1s");
}

/* A daemon-like table with ranges and forms (issue 10, items 9 and 11). */
typedef struct test_hard {
	char *config;
	char *dir;
	char *listen;
	char *control;
	int64_t beat;
	uint64_t map;
} test_hard;

static const char *const hard_listen[] = { "tcp://", "tls+tcp://", NULL };
static const char *const hard_control[] = { "ipc://", "tcp://", NULL };

static const osp_opt hard_table[] = {
	{ .name = "config", .short_name = 'c', .type = OSP_OPT_STR,
		.offset = offsetof(test_hard, config), .flag_only = true },
	{ .name = "dir", .type = OSP_OPT_STR, .offset = offsetof(test_hard, dir),
		.metavar = "DIR", .defval = "/var/lib/x", .form = OSP_FORM_PATH },
	{ .name = "listen", .type = OSP_OPT_STR, .offset = offsetof(test_hard, listen),
		.defval = "tcp://127.0.0.1:7400", .form = OSP_FORM_URL, .choices = hard_listen },
	{ .name = "control", .type = OSP_OPT_STR, .offset = offsetof(test_hard, control),
		.defval = "ipc:///run/x.sock", .form = OSP_FORM_URL, .choices = hard_control },
	{ .name = "beat", .type = OSP_OPT_DURATION, .offset = offsetof(test_hard, beat),
		.defval = "5s", .min = 100, .max = 600000 },
	{ .name = "map", .type = OSP_OPT_SIZE, .offset = offsetof(test_hard, map),
		.defval = "1GiB", .min = 1ULL << 20, .max = 16ULL << 40 },
};
#define HARD_NOPTS (sizeof(hard_table) / sizeof(hard_table[0]))

/* hard_load runs osp_opts_load of hard_table over "prog a [b]"; frees what
 * it loaded unless out is given. */
static osp_err hard_load(test_hard *out, const char *a, const char *b)
{
	char *argv[] = { "prog", (char *)a, (char *)b, NULL };
	test_hard h;
	osp_opts_action action;
	osp_err rv;

	memset(&h, 0, sizeof(h));
	memset(err, 0, sizeof(err));
	rv = osp_opts_load(hard_table, HARD_NOPTS, b != NULL ? 3 : 2, argv, &h, &action, err,
		sizeof(err));
	if (out != NULL)
		*out = h;
	else
		osp_opts_free(hard_table, HARD_NOPTS, &h);
	return rv;
}

#define hard_ok(a, b) assert_int_equal(hard_load(NULL, (a), (b)), OSP_OK)
#define hard_fail(msg, a, b)                                        \
	do {                                                        \
		assert_int_equal(hard_load(NULL, (a), (b)), OSP_EINVAL); \
		assert_string_equal(err, (msg));                    \
	} while (0)

/* a duration is checked against its range where it is read: 4294967396ms
 * once told agents 100ms (the low 32 bits), 1000000h became 817405952ms */
static void test_opts_duration_range(void **state)
{
	test_hard h;
	const char *path;
	char want[256];

	(void)state;
	hard_fail("--beat: expected a duration from 100ms to 10m, got '4294967396ms'", "--beat",
		"4294967396ms");
	hard_fail("--beat: expected a duration from 100ms to 10m, got '1000000h'", "--beat",
		"1000000h");
	hard_fail("--beat: expected a duration from 100ms to 10m, got '99ms'", "--beat=99ms", NULL);
	hard_fail("--beat: expected a duration from 100ms to 10m, got '601s'", "--beat", "601s");
	assert_int_equal(hard_load(&h, "--beat", "10m"), OSP_OK);
	assert_int_equal(h.beat, 600000);
	osp_opts_free(hard_table, HARD_NOPTS, &h);
	hard_ok("--beat", "100ms");
	/* the config file goes through the same check, with the place named */
	path = write_config("beat: 4294967396ms\n");
	snprintf(want, sizeof(want), "%s:1:7: beat: expected a duration from 100ms to 10m, "
		"got \"4294967396ms\"", path);
	assert_int_equal(hard_load(NULL, "-c", path), OSP_ECONFIG);
	assert_string_equal(err, want);
	/* without a range in the table: what 32 bits of milliseconds hold */
	load_fail(OSP_EINVAL, "--heartbeat: expected a duration like 500ms, 30s, 5m, got "
		"'2147483648ms'", "--heartbeat", "2147483648ms");
	load_fail(OSP_EINVAL, "--heartbeat: expected a duration like 500ms, 30s, 5m, got "
		"'1000000h'", "--heartbeat", "1000000h");
}

static void test_opts_size_range(void **state)
{
	(void)state;
	hard_fail("--map: expected a size from 1MiB to 16TiB, got '1B'", "--map", "1B");
	hard_fail("--map: expected a size from 1MiB to 16TiB, got '100TiB'", "--map", "100TiB");
	hard_ok("--map", "1MiB");
	hard_ok("--map", "16TiB");
}

/* an empty path put the store at "/" ("" + "/data.mdb") */
static void test_opts_path_not_empty(void **state)
{
	const char *path;
	char want[256];

	(void)state;
	hard_fail("--dir: expected a path (not empty), got ''", "--dir", "");
	hard_fail("--dir: expected a path (not empty), got ''", "--dir=", NULL);
	hard_fail("--dir: expected a path (not empty), got 'a?b'", "--dir", "a\nb");
	hard_ok("--dir", "relative/dir");
	path = write_config("dir: ''\n");
	snprintf(want, sizeof(want), "%s:1:6: dir: expected a path (not empty), got \"\"", path);
	assert_int_equal(hard_load(NULL, "-c", path), OSP_ECONFIG);
	assert_string_equal(err, want);
}

static void test_opts_url_form(void **state)
{
	static const char *const good_listen[] = { "tcp://127.0.0.1:7400", "tls+tcp://h.example:1",
		"tcp://[::1]:65535", "tcp://:7400", "tcp://*:7400" };
	static const char *const bad_listen[] = { "foo", "tcp://127.0.0.1", "tcp://h:0",
		"tcp://h:65536", "tcp://h:80/x", "tcp://h:8o", "tcp://[::1]", "ipc:///x.sock",
		"http://h:80", "tcp://h: 80", "" };
	char want[256], longp[200];

	(void)state;
	for (size_t i = 0; i < sizeof(good_listen) / sizeof(good_listen[0]); i++)
		hard_ok("--listen", good_listen[i]);
	for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		snprintf(want, sizeof(want), "--listen: expected a URL tcp://HOST:PORT or "
			"tls+tcp://HOST:PORT, got '%s'", bad_listen[i]);
		hard_fail(want, "--listen", bad_listen[i]);
	}
	hard_ok("--control", "ipc:///run/ospec/ctl.sock");
	hard_ok("--control", "ipc://relative.sock");
	hard_fail("--control: expected a URL ipc://PATH or tcp://HOST:PORT, got 'ipc://'",
		"--control", "ipc://");
	/* a unix socket path has 107 bytes */
	snprintf(longp, sizeof(longp), "ipc:///%0107d", 0);
	assert_int_equal(hard_load(NULL, "--control", longp), OSP_EINVAL);
	longp[strlen(longp) - 1] = '\0';
	hard_ok("--control", longp);
}

/* A list option: several URLs, "a,b" or a YAML list. */
typedef struct list_conf {
	char *config;
	char *peer;
} list_conf;

static const osp_opt list_table[] = {
	{ .name = "config", .short_name = 'c', .type = OSP_OPT_STR,
		.offset = offsetof(list_conf, config), .metavar = "FILE", .help = "config",
		.flag_only = true },
	{ .name = "peer", .type = OSP_OPT_STR, .offset = offsetof(list_conf, peer), .metavar = "URL",
		.help = "peers", .form = OSP_FORM_URL, .choices = hard_listen, .list = true },
};

/* list_load loads list_table from the config text (NULL: none) and the
 * flag --peer value (NULL: none); the peer field goes to peer (len bytes). */
static osp_err list_load(const char *text, const char *value, char *peer, size_t len)
{
	char *argv[6] = { "prog" };
	list_conf f = { NULL, NULL };
	int argc = 1;
	osp_opts_action action;
	osp_err rv;

	if (text != NULL) {
		argv[argc++] = "-c";
		argv[argc++] = (char *)write_config(text);
	}
	if (value != NULL) {
		argv[argc++] = "--peer";
		argv[argc++] = (char *)value;
	}
	memset(err, 0, sizeof(err));
	rv = osp_opts_load(list_table, 2, argc, argv, &f, &action, err, sizeof(err));
	snprintf(peer, len, "%s", f.peer != NULL ? f.peer : "");
	osp_opts_free(list_table, 2, &f);
	return rv;
}

/* A list option takes "a,b" (blanks around each dropped) or a YAML list of
 * scalars, each checked as one value; the bad item is the one named. A
 * single-value URL option still refuses a comma. */
static void test_opts_list(void **state)
{
	char peer[256];

	(void)state;
	assert_int_equal(list_load(NULL, " tcp://a:1 ,\ttcp://b:2", peer, sizeof(peer)), OSP_OK);
	assert_string_equal(peer, "tcp://a:1,tcp://b:2");
	assert_int_equal(list_load("peer: [tcp://a:1, tls+tcp://b:2]\n", NULL, peer, sizeof(peer)),
		OSP_OK);
	assert_string_equal(peer, "tcp://a:1,tls+tcp://b:2");
	assert_int_equal(list_load("peer: tcp://a:1\n", NULL, peer, sizeof(peer)), OSP_OK);
	assert_string_equal(peer, "tcp://a:1");
	assert_int_equal(list_load(NULL, "tcp://a:1,tcp://b", peer, sizeof(peer)), OSP_EINVAL);
	assert_string_equal(err, "--peer: expected a URL tcp://HOST:PORT or tls+tcp://HOST:PORT "
		"(several: separated by ','), got 'tcp://b'");
	assert_int_equal(list_load(NULL, "tcp://a:1,", peer, sizeof(peer)), OSP_EINVAL);
	assert_int_equal(list_load("peer: [tcp://a:1, {x: 1}]\n", NULL, peer, sizeof(peer)),
		OSP_ECONFIG);
	assert_non_null(strstr(err, ":1:19: peer[1]: expected a URL"));
	assert_int_equal(list_load("peer: [\"tcp://a:1,tcp://b:2\"]\n", NULL, peer, sizeof(peer)),
		OSP_ECONFIG);
	assert_non_null(strstr(err, "peer[0]: expected a URL"));
	assert_int_equal(list_load("peer: []\n", NULL, peer, sizeof(peer)), OSP_ECONFIG);
	assert_non_null(strstr(err, "peer: expected at least one value, got an empty list"));
	hard_fail("--listen: expected a URL tcp://HOST:PORT or tls+tcp://HOST:PORT, got "
		"'tcp://a:1,tcp://b:2'", "--listen", "tcp://a:1,tcp://b:2");
}

/* column_of returns how far into its line needle starts. */
static long column_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle), *p = at;

	assert_non_null(at);
	while (p > text && p[-1] != '\n')
		p--;
	return (long)(at - p);
}

static void test_opts_usage_text(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	osp_opts_usage(table, NOPTS, "ospec-agent", "Runs releases on this host.", f);
	fclose(f);
	assert_true(strncmp(text, "usage: ospec-agent [options]\nRuns releases on this host.\n",
		56) == 0);
	assert_non_null(strstr(text, "\n  -c, --config FILE "));
	assert_non_null(strstr(text, "\n      --log-level LEVEL "));
	assert_non_null(strstr(text, "  least severe level logged (debug|info|warn|error) "
		"[default: info]\n"));
	assert_non_null(strstr(text, "  heartbeat interval [default: 5s]\n"));
	assert_non_null(strstr(text, "\n  -v, --verbose "));
	assert_non_null(strstr(text, "  a label of this node (repeatable)\n"));
	assert_non_null(strstr(text, "\n  -h, --help "));
	assert_non_null(strstr(text, "\n      --version "));
	assert_non_null(strstr(text, "\nconfig file only:\n  tls: "));
	assert_null(strstr(text, "--tls"));
	/* help texts line up in one column */
	assert_int_equal(column_of(text, "read settings from FILE"), column_of(text, "state directory"));
	assert_int_equal(column_of(text, "read settings from FILE"), column_of(text, "say more"));
	assert_int_equal(column_of(text, "read settings from FILE"),
		column_of(text, "heartbeat interval")); /* the widest flag */
	assert_int_equal(column_of(text, "read settings from FILE"),
		column_of(text, "show this help"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_opts_defaults, teardown_config),
		cmocka_unit_test_teardown(test_opts_every_type_from_flags, teardown_config),
		cmocka_unit_test_teardown(test_opts_file_then_flags, teardown_config),
		cmocka_unit_test_teardown(test_opts_empty_file_keeps_defaults, teardown_config),
		cmocka_unit_test_teardown(test_opts_file_wrong_type_located, teardown_config),
		cmocka_unit_test_teardown(test_opts_file_labels_errors, teardown_config),
		cmocka_unit_test_teardown(test_opts_file_custom_error, teardown_config),
		cmocka_unit_test_teardown(test_opts_file_unknown_key, teardown_config),
		cmocka_unit_test_teardown(test_opts_file_malformed, teardown_config),
		cmocka_unit_test_teardown(test_opts_help_and_version, teardown_config),
		cmocka_unit_test_teardown(test_opts_unknown_flags, teardown_config),
		cmocka_unit_test_teardown(test_opts_missing_value, teardown_config),
		cmocka_unit_test_teardown(test_opts_bad_flag_values, teardown_config),
		cmocka_unit_test_teardown(test_opts_usage_text, teardown_config),
		cmocka_unit_test_teardown(test_opts_duration_range, teardown_config),
		cmocka_unit_test_teardown(test_opts_size_range, teardown_config),
		cmocka_unit_test_teardown(test_opts_path_not_empty, teardown_config),
		cmocka_unit_test_teardown(test_opts_url_form, teardown_config),
		cmocka_unit_test_teardown(test_opts_list, teardown_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
