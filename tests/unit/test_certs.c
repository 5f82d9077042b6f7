/* test_certs.c - a CA and certificates: files, modes, names, usages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "ospec/certs.h"
#include "ospec/util.h"
#include "test_support.h"

typedef struct fx {
	char root[64];
	char dir[128];
} fx;

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-test-certs-XXXXXX");
	snprintf(f->dir, sizeof(f->dir), "%s/pki", f->root); /* created by init */
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	ts_rmtree(f->root);
	free(f);
	return 0;
}

static void fx_init(fx *f)
{
	char err[256];

	assert_int_equal(osp_certs_init(f->dir, NULL, 0, false, err, sizeof(err)), OSP_OK);
}

static unsigned fx_mode(const char *dir, const char *file)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	assert_int_equal(stat(p, &st), 0);
	return (unsigned)(st.st_mode & 0777);
}

/* fx_load parses DIR/name.pem (and checks DIR/name.key pairs with it). */
static void fx_load(const fx *f, const char *name, mbedtls_x509_crt *crt)
{
	char p[256], k[256];
	mbedtls_pk_context pk;

	snprintf(p, sizeof(p), "%s/%s.pem", f->dir, name);
	snprintf(k, sizeof(k), "%s/%s.key", f->dir, name);
	mbedtls_x509_crt_init(crt);
	assert_int_equal(mbedtls_x509_crt_parse_file(crt, p), 0);
	mbedtls_pk_init(&pk);
	assert_int_equal(mbedtls_pk_parse_keyfile(&pk, k, NULL), 0);
	assert_int_equal(mbedtls_pk_check_pair(&crt->pk, &pk), 0);
	assert_true(mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECKEY));
	assert_int_equal(mbedtls_pk_get_bitlen(&pk), 256);
	mbedtls_pk_free(&pk);
}

/* fx_verify verifies crt against DIR/ca.pem, expecting cn if not NULL. */
static uint32_t fx_verify(const fx *f, mbedtls_x509_crt *crt, const char *cn)
{
	char p[256];
	mbedtls_x509_crt ca;
	uint32_t flags = 0;

	snprintf(p, sizeof(p), "%s/ca.pem", f->dir);
	mbedtls_x509_crt_init(&ca);
	assert_int_equal(mbedtls_x509_crt_parse_file(&ca, p), 0);
	mbedtls_x509_crt_verify(crt, &ca, NULL, cn, &flags, NULL, NULL);
	mbedtls_x509_crt_free(&ca);
	return flags;
}

static bool fx_has_dns(const mbedtls_x509_crt *crt, const char *name)
{
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next)
		if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME) &&
			s->buf.len == strlen(name) && memcmp(s->buf.p, name, s->buf.len) == 0)
			return true;
	return false;
}

static bool fx_subject_has(const mbedtls_x509_crt *crt, const char *text)
{
	char buf[256];

	assert_true(mbedtls_x509_dn_gets(buf, sizeof(buf), &crt->subject) > 0);
	return strstr(buf, text) != NULL;
}

static void test_certs_init_writes_ca(void **state)
{
	fx *f = *state;
	mbedtls_x509_crt ca;
	char p[256], err[256];

	fx_init(f);
	assert_int_equal(fx_mode(f->dir, "ca.key"), 0600);
	assert_int_equal(fx_mode(f->dir, "ca.pem"), 0644);
	assert_int_equal(fx_mode(f->root, "pki"), 0700);
	fx_load(f, "ca", &ca);
	assert_true(ca.ca_istrue);
	assert_true(fx_subject_has(&ca, "CN=ospec-ca"));
	assert_int_equal(mbedtls_x509_crt_check_key_usage(&ca, MBEDTLS_X509_KU_KEY_CERT_SIGN), 0);
	/* about ten years */
	assert_true(ca.valid_to.year - ca.valid_from.year >= 9);
	assert_int_equal(fx_verify(f, &ca, NULL), 0);
	mbedtls_x509_crt_free(&ca);
	/* a second init keeps the CA, unless forced */
	assert_int_equal(osp_certs_init(f->dir, NULL, 0, false, err, sizeof(err)), OSP_EEXIST);
	assert_non_null(strstr(err, "--force"));
	assert_int_equal(osp_certs_init(f->dir, "Other CA", 0, true, err, sizeof(err)), OSP_OK);
	snprintf(p, sizeof(p), "%s/ca.pem", f->dir);
	mbedtls_x509_crt_init(&ca);
	assert_int_equal(mbedtls_x509_crt_parse_file(&ca, p), 0);
	assert_true(fx_subject_has(&ca, "CN=Other CA"));
	mbedtls_x509_crt_free(&ca);
	assert_int_equal(osp_certs_init(f->dir, "bad,name", 0, true, err, sizeof(err)),
		OSP_EINVAL);
}

static void test_certs_issue_node(void **state)
{
	fx *f = *state;
	osp_cert_req req = { .kind = OSP_CERT_NODE, .name = "web-1" };
	mbedtls_x509_crt crt;
	char cp[256], kp[256], err[256];

	fx_init(f);
	assert_int_equal(osp_certs_issue(f->dir, &req, false, cp, kp, sizeof(cp), err, sizeof(err)),
		OSP_OK);
	assert_non_null(strstr(cp, "/web-1.pem"));
	assert_non_null(strstr(kp, "/web-1.key"));
	assert_int_equal(fx_mode(f->dir, "web-1.key"), 0600);
	fx_load(f, "web-1", &crt);
	assert_false(crt.ca_istrue);
	assert_true(fx_subject_has(&crt, "CN=web-1"));
	assert_true(fx_has_dns(&crt, "web-1"));
	assert_int_equal(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
		0);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_CLIENT_AUTH,
				 MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
		0);
	assert_int_not_equal(mbedtls_x509_crt_check_extended_key_usage(&crt,
				     MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
		0);
	assert_int_equal(fx_verify(f, &crt, "web-1"), 0);
	assert_int_not_equal(fx_verify(f, &crt, "web-2") & MBEDTLS_X509_BADCERT_CN_MISMATCH, 0);
	mbedtls_x509_crt_free(&crt);
	/* an existing certificate is kept unless forced */
	assert_int_equal(osp_certs_issue(f->dir, &req, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_EEXIST);
	assert_int_equal(osp_certs_issue(f->dir, &req, true, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
}

static void test_certs_issue_coordinator(void **state)
{
	fx *f = *state;
	osp_cert_req ip = { .kind = OSP_CERT_COORDINATOR, .name = "127.0.0.1", .ip = "::1" };
	osp_cert_req host = { .kind = OSP_CERT_COORDINATOR, .name = "coord.example.net" };
	mbedtls_x509_crt crt;
	char err[256];

	fx_init(f);
	assert_int_equal(osp_certs_issue(f->dir, &ip, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	fx_load(f, "127.0.0.1", &crt);
	/* mbedTLS 2.28 clients match an address against DNS names */
	assert_true(fx_has_dns(&crt, "127.0.0.1"));
	assert_int_equal(fx_verify(f, &crt, "127.0.0.1"), 0);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
				 MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
		0);
	assert_int_not_equal(mbedtls_x509_crt_check_extended_key_usage(&crt,
				     MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
		0);
	mbedtls_x509_crt_free(&crt);
	assert_int_equal(osp_certs_issue(f->dir, &host, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	fx_load(f, "coord.example.net", &crt);
	assert_int_equal(fx_verify(f, &crt, "coord.example.net"), 0);
	assert_int_not_equal(fx_verify(f, &crt, "evil.example.net"), 0);
	mbedtls_x509_crt_free(&crt);
}

static void test_certs_issue_roles(void **state)
{
	fx *f = *state;
	osp_cert_req admin = { .kind = OSP_CERT_ADMIN, .name = "alice" };
	osp_cert_req viewer = { .kind = OSP_CERT_VIEWER, .name = "bob" };
	mbedtls_x509_crt crt;
	char err[256];

	fx_init(f);
	assert_int_equal(osp_certs_issue(f->dir, &admin, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(osp_certs_issue(f->dir, &viewer, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	fx_load(f, "alice", &crt);
	assert_true(fx_subject_has(&crt, "OU=admin"));
	assert_int_equal(fx_verify(f, &crt, NULL), 0);
	mbedtls_x509_crt_free(&crt);
	fx_load(f, "bob", &crt);
	assert_true(fx_subject_has(&crt, "OU=viewer"));
	assert_true(fx_subject_has(&crt, "CN=bob"));
	mbedtls_x509_crt_free(&crt);
}

/* "certs issue --node 127.0.0.1 --force" wrote over the coordinator's own
 * certificate (its files are named after it too): another role's files are
 * kept, --force or not; the same role's are replaced with --force */
static void test_certs_issue_keeps_other_roles(void **state)
{
	fx *f = *state;
	osp_cert_req coord = { .kind = OSP_CERT_COORDINATOR, .name = "127.0.0.1" };
	osp_cert_req node = { .kind = OSP_CERT_NODE, .name = "127.0.0.1" };
	osp_cert_req admin = { .kind = OSP_CERT_ADMIN, .name = "alice" };
	osp_cert_req viewer = { .kind = OSP_CERT_VIEWER, .name = "alice" };
	char err[512], path[256], *before = NULL, *after = NULL;
	size_t lb = 0, la = 0;

	fx_init(f);
	assert_int_equal(osp_certs_issue(f->dir, &coord, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	snprintf(path, sizeof(path), "%s/127.0.0.1.pem", f->dir);
	assert_int_equal(osp_file_read(path, 1 << 16, &before, &lb), OSP_OK);
	for (int force = 0; force <= 1; force++) {
		assert_int_equal(osp_certs_issue(f->dir, &node, force, NULL, NULL, 0, err,
			sizeof(err)), OSP_EEXIST);
		assert_non_null(strstr(err, "holds the coordinator certificate"));
		assert_non_null(strstr(err, "choose another name"));
	}
	assert_int_equal(osp_file_read(path, 1 << 16, &after, &la), OSP_OK);
	assert_int_equal(la, lb);
	assert_memory_equal(after, before, lb);
	/* the coordinator's own, again: with --force as before */
	assert_int_equal(osp_certs_issue(f->dir, &coord, true, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	/* an admin is not turned into a viewer over the same file */
	assert_int_equal(osp_certs_issue(f->dir, &admin, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(osp_certs_issue(f->dir, &viewer, true, NULL, NULL, 0, err, sizeof(err)),
		OSP_EEXIST);
	assert_non_null(strstr(err, "holds the admin certificate"));
	free(before);
	free(after);
}

static void test_certs_bad_names_refused(void **state)
{
	fx *f = *state;
	static const char *const bad[] = { "", "../x", "a,OU=admin", "a/b", ".hidden", "ca",
		"a b" };
	osp_cert_req req = { .kind = OSP_CERT_NODE };
	char err[256], p[256];

	fx_init(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.name = bad[i];
		assert_int_equal(osp_certs_issue(f->dir, &req, true, NULL, NULL, 0, err,
					 sizeof(err)),
			OSP_EINVAL);
	}
	req.kind = OSP_CERT_COORDINATOR;
	req.name = "bad_host!";
	assert_int_equal(osp_certs_issue(f->dir, &req, true, NULL, NULL, 0, err, sizeof(err)),
		OSP_EINVAL);
	req.name = "coord";
	req.ip = "not-an-ip";
	assert_int_equal(osp_certs_issue(f->dir, &req, true, NULL, NULL, 0, err, sizeof(err)),
		OSP_EINVAL);
	/* nothing was written for any of them */
	snprintf(p, sizeof(p), "%s/coord.pem", f->dir);
	assert_int_not_equal(access(p, F_OK), 0);
	/* an operator name must leave room for "cert:" in the actor field */
	req.kind = OSP_CERT_ADMIN;
	req.ip = NULL;
	req.name = "a23456789012345678901234567890123456789012345678901234567890";
	assert_int_equal(osp_certs_issue(f->dir, &req, true, NULL, NULL, 0, err, sizeof(err)),
		OSP_EINVAL);
}

static void test_certs_issue_needs_ca(void **state)
{
	fx *f = *state;
	osp_cert_req req = { .kind = OSP_CERT_NODE, .name = "web-1" };
	char err[256], p[256];

	assert_int_equal(osp_certs_issue(f->root, &req, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_EIO);
	assert_non_null(strstr(err, "certs init"));
	/* a CA key that is not the CA certificate's is refused */
	fx_init(f);
	snprintf(p, sizeof(p), "%s/other", f->root);
	assert_int_equal(osp_certs_init(p, NULL, 0, false, err, sizeof(err)), OSP_OK);
	{
		char from[300], to[300], *data = NULL;
		size_t len;
		snprintf(from, sizeof(from), "%s/ca.key", p);
		snprintf(to, sizeof(to), "%s/ca.key", f->dir);
		assert_int_equal(osp_file_read(from, 4096, &data, &len), OSP_OK);
		assert_int_equal(osp_file_write_atomic(to, data, len, 0600), OSP_OK);
		free(data);
	}
	assert_int_equal(osp_certs_issue(f->dir, &req, false, NULL, NULL, 0, err, sizeof(err)),
		OSP_EINVAL);
	assert_string_equal(err, "the CA key does not belong to the CA certificate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_certs_init_writes_ca, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_certs_issue_node, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_certs_issue_coordinator, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_certs_issue_roles, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_certs_issue_keeps_other_roles, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_certs_bad_names_refused, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_certs_issue_needs_ca, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
