/* test_tls.c - register and control proofs, TLS configurations, URL hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "ospec/certs.h"
#include "ospec/tls.h"
#include "ospec/util.h"
#include "test_support.h"

#define UUID "0b7c3f5e-2c1a-4d3e-9f00-123456789abc"

typedef struct fx {
	char root[64];
	char ca_file[128], other_ca_file[128];
	char *ca_cert, *ca_key;       /* the coordinator's CA */
	char *other_cert, *other_key; /* a foreign CA */
	uint8_t nonce[32];
} fx;

static void fx_write(const char *path, const char *data)
{
	assert_int_equal(osp_file_write_atomic(path, data, strlen(data), 0600), OSP_OK);
}

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	ts_mkdtemp(f->root, sizeof(f->root), "/tmp/ospec-test-tls-XXXXXX");
	assert_int_equal(osp_certs_make_ca("test-ca", 0, &f->ca_cert, &f->ca_key, err, sizeof(err)),
		OSP_OK);
	assert_int_equal(osp_certs_make_ca("other-ca", 0, &f->other_cert, &f->other_key, err,
				 sizeof(err)),
		OSP_OK);
	snprintf(f->ca_file, sizeof(f->ca_file), "%s/ca.pem", f->root);
	snprintf(f->other_ca_file, sizeof(f->other_ca_file), "%s/other.pem", f->root);
	fx_write(f->ca_file, f->ca_cert);
	fx_write(f->other_ca_file, f->other_cert);
	for (size_t i = 0; i < sizeof(f->nonce); i++)
		f->nonce[i] = (uint8_t)(i * 7 + 1);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;

	ts_rmtree(f->root);
	free(f->ca_cert);
	osp_certs_key_free(f->ca_key);
	free(f->other_cert);
	osp_certs_key_free(f->other_key);
	free(f);
	return 0;
}

/* fx_leaf issues req from the coordinator's CA (or the foreign one). */
static void fx_leaf(fx *f, bool foreign, const osp_cert_req *req, char **cert, char **key)
{
	char err[256];

	assert_int_equal(osp_certs_make_leaf(foreign ? f->other_cert : f->ca_cert,
				 foreign ? f->other_key : f->ca_key, req, cert, key, err,
				 sizeof(err)),
		OSP_OK);
}

/* fx_register signs as claim with key and verifies against ca_file; the
 * verdict's message goes to err. */
static osp_err fx_register(fx *f, const char *ca_file, const char *cert, const char *key,
	const char *claim, char *err, size_t errlen)
{
	uint8_t sig[OSP_TLS_MAX_SIG];
	size_t sig_len = 0;

	assert_int_equal(osp_tls_sign_register(key, f->nonce, sizeof(f->nonce), claim, UUID, sig,
				 sizeof(sig), &sig_len, err, errlen),
		OSP_OK);
	assert_true(sig_len > 0 && sig_len <= 72);
	err[0] = '\0';
	return osp_tls_verify_register(ca_file, cert, strlen(cert), sig, sig_len, f->nonce,
		sizeof(f->nonce), claim, UUID, err, errlen);
}

static void test_tls_register_proof_ok(void **state)
{
	fx *f = *state;
	osp_cert_req req = { .kind = OSP_CERT_NODE, .name = "web-1" };
	char *cert, *key, err[256];

	fx_leaf(f, false, &req, &cert, &key);
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-1", err, sizeof(err)), OSP_OK);
	free(cert);
	osp_certs_key_free(key);
}

static void test_tls_wrong_name_refused(void **state)
{
	fx *f = *state;
	osp_cert_req req = { .kind = OSP_CERT_NODE, .name = "web-1" };
	char *cert, *key, err[256];

	fx_leaf(f, false, &req, &cert, &key);
	/* a valid signature by web-1's key, claiming web-2 */
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-2", err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "certificate for 'web-1' cannot register as 'web-2'");
	/* a prefix is not the name */
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-10", err, sizeof(err)),
		OSP_EPERM);
	free(cert);
	osp_certs_key_free(key);
}

static void test_tls_wrong_ca_refused(void **state)
{
	fx *f = *state;
	osp_cert_req req = { .kind = OSP_CERT_NODE, .name = "web-1" };
	char *cert, *key, err[256];

	fx_leaf(f, true, &req, &cert, &key);
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-1", err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "certificate not signed by the coordinator's CA");
	/* the same proof is fine for the CA that made it */
	assert_int_equal(fx_register(f, f->other_ca_file, cert, key, "web-1", err, sizeof(err)),
		OSP_OK);
	free(cert);
	osp_certs_key_free(key);
}

static void test_tls_tampered_signature_refused(void **state)
{
	fx *f = *state;
	osp_cert_req req = { .kind = OSP_CERT_NODE, .name = "web-1" };
	char *cert, *key, *other, *other_key, err[256];
	uint8_t sig[OSP_TLS_MAX_SIG], nonce2[32];
	size_t sig_len = 0;

	fx_leaf(f, false, &req, &cert, &key);
	fx_leaf(f, false, &req, &other, &other_key); /* same name, another key */
	assert_int_equal(osp_tls_sign_register(key, f->nonce, 32, "web-1", UUID, sig, sizeof(sig),
				 &sig_len, err, sizeof(err)),
		OSP_OK);
	sig[sig_len / 2] ^= 0x01;
	assert_int_equal(osp_tls_verify_register(f->ca_file, cert, strlen(cert), sig, sig_len,
				 f->nonce, 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "signature does not match the certificate");
	sig[sig_len / 2] ^= 0x01;
	/* another connection's nonce, another uuid, a truncated signature */
	memcpy(nonce2, f->nonce, 32);
	nonce2[0] ^= 0x80;
	assert_int_equal(osp_tls_verify_register(f->ca_file, cert, strlen(cert), sig, sig_len,
				 nonce2, 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	assert_int_equal(osp_tls_verify_register(f->ca_file, cert, strlen(cert), sig, sig_len,
				 f->nonce, 32, "web-1", "0b7c3f5e-2c1a-4d3e-9f00-123456789abd",
				 err, sizeof(err)),
		OSP_EPERM);
	assert_int_equal(osp_tls_verify_register(f->ca_file, cert, strlen(cert), sig, sig_len - 1,
				 f->nonce, 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	/* a genuine certificate with a signature made by another key */
	assert_int_equal(osp_tls_verify_register(f->ca_file, other, strlen(other), sig, sig_len,
				 f->nonce, 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "signature does not match the certificate");
	/* untouched, it verifies */
	assert_int_equal(osp_tls_verify_register(f->ca_file, cert, strlen(cert), sig, sig_len,
				 f->nonce, 32, "web-1", UUID, err, sizeof(err)),
		OSP_OK);
	free(cert);
	osp_certs_key_free(key);
	free(other);
	osp_certs_key_free(other_key);
}

static void test_tls_key_usage_enforced(void **state)
{
	fx *f = *state;
	osp_cert_req ku = { .kind = OSP_CERT_NODE, .name = "web-1",
		.key_usage = MBEDTLS_X509_KU_KEY_ENCIPHERMENT };
	osp_cert_req server = { .kind = OSP_CERT_COORDINATOR, .name = "web-1" };
	osp_cert_req no_eku = { .kind = OSP_CERT_NODE, .name = "web-1", .no_ext_key_usage = true };
	char *cert, *key, err[256];

	fx_leaf(f, false, &ku, &cert, &key);
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-1", err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "certificate key usage does not allow digital signatures");
	free(cert);
	osp_certs_key_free(key);

	/* a server certificate (the coordinator's) is not an agent's */
	fx_leaf(f, false, &server, &cert, &key);
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-1", err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err,
		"certificate is not for client authentication (extended key usage)");
	free(cert);
	osp_certs_key_free(key);

	/* usages are enforced only when present */
	fx_leaf(f, false, &no_eku, &cert, &key);
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-1", err, sizeof(err)), OSP_OK);
	free(cert);
	osp_certs_key_free(key);
}

static void test_tls_ca_and_role_certs_cannot_register(void **state)
{
	fx *f = *state;
	osp_cert_req admin = { .kind = OSP_CERT_ADMIN, .name = "web-1" };
	char *cert, *key, err[256];

	/* the CA itself (whoever has its key has everything, but still) */
	assert_int_equal(fx_register(f, f->ca_file, f->ca_cert, f->ca_key, "test-ca", err,
				 sizeof(err)),
		OSP_EPERM);
	assert_non_null(strstr(err, "CA certificate"));
	/* an operator's certificate named like a node */
	fx_leaf(f, false, &admin, &cert, &key);
	assert_int_equal(fx_register(f, f->ca_file, cert, key, "web-1", err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "certificate of admin 'web-1' cannot register as a node");
	free(cert);
	osp_certs_key_free(key);
}

static void test_tls_garbage_proof_refused(void **state)
{
	fx *f = *state;
	uint8_t sig[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, junk[300];
	char err[256], pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 31);
	assert_int_equal(osp_tls_verify_register(f->ca_file, NULL, 0, sig, sizeof(sig), f->nonce,
				 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	assert_string_equal(err, "no certificate presented");
	assert_int_equal(osp_tls_verify_register(f->ca_file, junk, sizeof(junk), sig, sizeof(sig),
				 f->nonce, 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	assert_int_equal(osp_tls_verify_register(f->ca_file, pem, strlen(pem), sig, sizeof(sig),
				 f->nonce, 32, "web-1", UUID, err, sizeof(err)),
		OSP_EPERM);
	assert_int_equal(osp_tls_verify_register(f->ca_file, f->ca_cert, strlen(f->ca_cert), NULL,
				 0, f->nonce, 32, "test-ca", UUID, err, sizeof(err)),
		OSP_EPERM);
	/* an unreadable CA file is the coordinator's problem, said as such */
	assert_int_equal(osp_tls_verify_register("/nonexistent/ca.pem", f->ca_cert,
				 strlen(f->ca_cert), sig, sizeof(sig), f->nonce, 32, "test-ca",
				 UUID, err, sizeof(err)),
		OSP_EIO);
}

static void test_tls_control_proof_peer(void **state)
{
	fx *f = *state;
	osp_cert_req viewer = { .kind = OSP_CERT_VIEWER, .name = "bob" };
	const char *keys[] = { "rollout" }, *vals[] = { "r-1" }, *vals2[] = { "r-2" };
	char *cert, *key, err[256];
	uint8_t sig[OSP_TLS_MAX_SIG];
	size_t sig_len;
	osp_tls_peer peer;
	osp_buf b;

	fx_leaf(f, false, &viewer, &cert, &key);
	osp_buf_init(&b, 0);
	assert_int_equal(osp_tls_ctl_msg(&b, "rid-1", "abort", 1234, 1, keys, vals), OSP_OK);
	assert_int_equal(b.len, sizeof("ospec-ctl-v1\0rid-1\0abort\0" "1234\0rollout\0r-1"));
	assert_memory_equal(b.data, "ospec-ctl-v1\0rid-1\0abort\0" "1234\0rollout\0r-1",
		b.len);
	assert_int_equal(osp_tls_sign(key, b.data, b.len, sig, sizeof(sig), &sig_len, err,
				 sizeof(err)),
		OSP_OK);
	assert_int_equal(osp_tls_verify_proof(f->ca_file, cert, strlen(cert), b.data, b.len, sig,
				 sig_len, &peer, err, sizeof(err)),
		OSP_OK);
	assert_string_equal(peer.cn, "bob");
	assert_string_equal(peer.ou, "viewer");
	/* the signature covers the arguments */
	assert_int_equal(osp_tls_ctl_msg(&b, "rid-1", "abort", 1234, 1, keys, vals2), OSP_OK);
	assert_int_equal(osp_tls_verify_proof(f->ca_file, cert, strlen(cert), b.data, b.len, sig,
				 sig_len, &peer, err, sizeof(err)),
		OSP_EPERM);
	/* too small an output buffer is an error, not an overflow */
	assert_int_equal(osp_tls_sign(key, b.data, b.len, sig, 8, &sig_len, err, sizeof(err)),
		OSP_ETOOBIG);
	assert_int_equal(osp_tls_sign("not a key", b.data, b.len, sig, sizeof(sig), &sig_len, err,
				 sizeof(err)),
		OSP_EINVAL);
	osp_buf_fini(&b);
	free(cert);
	osp_certs_key_free(key);
}

static void test_tls_configs_from_files(void **state)
{
	fx *f = *state;
	osp_cert_req a = { .kind = OSP_CERT_COORDINATOR, .name = "127.0.0.1" };
	osp_cert_req b = { .kind = OSP_CERT_NODE, .name = "web-1" };
	char *ca, *ka, *cb, *kb, pa[160], pka[160], pkb[160], err[512];
	nng_tls_config *cfg = NULL;

	fx_leaf(f, false, &a, &ca, &ka);
	fx_leaf(f, false, &b, &cb, &kb);
	snprintf(pa, sizeof(pa), "%s/a.pem", f->root);
	snprintf(pka, sizeof(pka), "%s/a.key", f->root);
	snprintf(pkb, sizeof(pkb), "%s/b.key", f->root);
	fx_write(pa, ca);
	fx_write(pka, ka);
	fx_write(pkb, kb);
	assert_int_equal(osp_tls_server_config(f->ca_file, pa, pka, &cfg, err, sizeof(err)),
		OSP_OK);
	nng_tls_config_free(cfg);
	assert_int_equal(osp_tls_client_config(f->ca_file, pa, pka, "127.0.0.1", &cfg, err,
				 sizeof(err)),
		OSP_OK);
	nng_tls_config_free(cfg);
	cfg = NULL;
	/* a key that is not the certificate's: named, and no key bytes said */
	assert_int_equal(osp_tls_server_config(f->ca_file, pa, pkb, &cfg, err, sizeof(err)),
		OSP_ECONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err, "does not belong to certificate"));
	assert_null(strstr(err, "PRIVATE"));
	assert_int_equal(osp_tls_server_config(f->ca_file, "/nonexistent.pem", pka, &cfg, err,
				 sizeof(err)),
		OSP_EIO);
	assert_non_null(strstr(err, "/nonexistent.pem"));
	assert_int_equal(osp_tls_server_config(f->ca_file, pka, pa, &cfg, err, sizeof(err)),
		OSP_ECONFIG);
	assert_int_equal(osp_tls_client_config(f->ca_file, pa, pka, "", &cfg, err, sizeof(err)),
		OSP_ECONFIG);
	free(ca);
	free(cb);
	osp_certs_key_free(ka);
	osp_certs_key_free(kb);
}

static void test_tls_url_host(void **state)
{
	char h[64];

	(void)state;
	assert_true(osp_tls_url_is_tls("tls+tcp://a:1"));
	assert_false(osp_tls_url_is_tls("tcp://a:1"));
	assert_false(osp_tls_url_is_tls(NULL));
	assert_int_equal(osp_tls_url_host("tls+tcp://coord.example.net:7400", h, sizeof(h)),
		OSP_OK);
	assert_string_equal(h, "coord.example.net");
	assert_int_equal(osp_tls_url_host("tls+tcp://127.0.0.1:7400", h, sizeof(h)), OSP_OK);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(osp_tls_url_host("tls+tcp://[::1]:7400", h, sizeof(h)), OSP_OK);
	assert_string_equal(h, "::1");
	assert_int_equal(osp_tls_url_host("tls+tcp://:7400", h, sizeof(h)), OSP_EINVAL);
	assert_int_equal(osp_tls_url_host("no-scheme", h, sizeof(h)), OSP_EINVAL);
	assert_int_equal(osp_tls_url_host("tls+tcp://a/b:1", h, sizeof(h)), OSP_EINVAL);
	assert_int_equal(osp_tls_url_host("tls+tcp://a-very-long-host-name.example:1", h, 8),
		OSP_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_register_proof_ok, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_wrong_name_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_wrong_ca_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_tampered_signature_refused, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_key_usage_enforced, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_ca_and_role_certs_cannot_register,
			fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_garbage_proof_refused, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_control_proof_peer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_configs_from_files, fx_setup, fx_teardown),
		cmocka_unit_test(test_tls_url_host),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini(); /* nng's threads and caches, so valgrind sees no leak */
	return failed;
}
