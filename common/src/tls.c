/* tls.c - nng TLS configurations and the in-protocol proofs of identity. */
#include "ospec/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

bool osp_tls_url_is_tls(const char *url)
{
	return url != NULL && strncmp(url, "tls+tcp://", 10) == 0;
}

osp_err osp_tls_url_host(const char *url, char *host, size_t len)
{
	const char *p = url ? strstr(url, "://") : NULL;
	const char *end;
	size_t n;

	if (p == NULL)
		return OSP_EINVAL;
	p += 3;
	if (*p == '[') {
		p++;
		end = strchr(p, ']');
	} else {
		end = strrchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
	}
	if (end == NULL || end == p)
		return OSP_EINVAL;
	n = (size_t)(end - p);
	if (n >= len)
		return OSP_ETOOBIG;
	memcpy(host, p, n);
	host[n] = '\0';
	if (strchr(host, '/') != NULL)
		return OSP_EINVAL;
	return OSP_OK;
}

osp_err osp_tls_read_pem(const char *path, char **data, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return OSP_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return OSP_EIO;
	}
	if (st.st_size > OSP_TLS_MAX_PEM) {
		close(fd);
		return OSP_ETOOBIG;
	}
	/* one allocation of the right size: key bytes are never left behind
	 * in a buffer that grew */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return OSP_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return OSP_OK;
}

void osp_tls_pem_free(char *data, size_t len)
{
	if (data == NULL)
		return;
	mbedtls_platform_zeroize(data, len);
	free(data);
}

/* osp_tls_rng is mbedTLS's random callback over getrandom(2). */
static int osp_tls_rng(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	return osp_random_bytes(buf, len) == OSP_OK ? 0 : -1;
}

/* osp_tls_check_pair reports whether key_pem is the private key of the first
 * certificate in cert_pem; err names the files. */
static osp_err osp_tls_check_pair(const char *cert_pem, size_t cert_len, const char *key_pem,
	size_t key_len, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	osp_err rv = OSP_OK;

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&pk);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert_pem, cert_len + 1) != 0) {
		snprintf(err, errlen, "'%s' is not a PEM certificate", cert_file);
		rv = OSP_ECONFIG;
	} else if (mbedtls_pk_parse_key(&pk, (const unsigned char *)key_pem, key_len + 1, NULL,
			   0) != 0) {
		snprintf(err, errlen, "'%s' is not a PEM private key (without a passphrase)",
			key_file);
		rv = OSP_ECONFIG;
	} else if (mbedtls_pk_check_pair(&crt.pk, &pk) != 0) {
		snprintf(err, errlen, "key '%s' does not belong to certificate '%s'", key_file,
			cert_file);
		rv = OSP_ECONFIG;
	}
	mbedtls_pk_free(&pk);
	mbedtls_x509_crt_free(&crt);
	return rv;
}

/* osp_tls_config builds a configuration of mode with own cert+key and ca. */
static osp_err osp_tls_config(nng_tls_mode mode, const char *ca_file, const char *cert_file,
	const char *key_file, const char *server_name, nng_tls_config **out, char *err,
	size_t errlen)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	osp_err rv;
	int nv;

	*out = NULL;
	if (ca_file == NULL || cert_file == NULL || key_file == NULL) {
		snprintf(err, errlen, "TLS needs a CA, a certificate and a key file");
		return OSP_ECONFIG;
	}
	if ((rv = osp_tls_read_pem(cert_file, &cert, &cert_len)) != OSP_OK) {
		snprintf(err, errlen, "cannot read certificate '%s': %s", cert_file,
			rv == OSP_ETOOBIG ? "too big" : strerror(errno));
		goto out;
	}
	if ((rv = osp_tls_read_pem(key_file, &key, &key_len)) != OSP_OK) {
		snprintf(err, errlen, "cannot read key '%s': %s", key_file,
			rv == OSP_ETOOBIG ? "too big" : strerror(errno));
		goto out;
	}
	if ((rv = osp_tls_check_pair(cert, cert_len, key, key_len, cert_file, key_file, err,
		     errlen)) != OSP_OK)
		goto out;
	rv = OSP_ECONFIG;
	if ((nv = nng_tls_config_alloc(&cfg, mode)) != 0) {
		snprintf(err, errlen, "cannot make a TLS configuration: %s", nng_strerror(nv));
		goto out;
	}
	if ((nv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		snprintf(err, errlen, "certificate '%s' / key '%s' refused: %s", cert_file,
			key_file, nng_strerror(nv));
		goto out;
	}
	if ((nv = nng_tls_config_ca_file(cfg, ca_file)) != 0) {
		snprintf(err, errlen, "CA file '%s' refused: %s", ca_file, nng_strerror(nv));
		goto out;
	}
	if ((nv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		(server_name != NULL && (nv = nng_tls_config_server_name(cfg, server_name)) != 0)) {
		snprintf(err, errlen, "cannot set up TLS: %s", nng_strerror(nv));
		goto out;
	}
	*out = cfg;
	cfg = NULL; /* the caller's */
	rv = OSP_OK;
out:
	if (cfg != NULL)
		nng_tls_config_free(cfg);
	osp_tls_pem_free(cert, cert_len);
	osp_tls_pem_free(key, key_len);
	return rv;
}

osp_err osp_tls_server_config(const char *ca_file, const char *cert_file, const char *key_file,
	nng_tls_config **out, char *err, size_t errlen)
{
	return osp_tls_config(NNG_TLS_MODE_SERVER, ca_file, cert_file, key_file, NULL, out, err,
		errlen);
}

osp_err osp_tls_client_config(const char *ca_file, const char *cert_file, const char *key_file,
	const char *server_name, nng_tls_config **out, char *err, size_t errlen)
{
	if (server_name == NULL || server_name[0] == '\0') {
		snprintf(err, errlen, "TLS client without a server name to check");
		return OSP_ECONFIG;
	}
	return osp_tls_config(NNG_TLS_MODE_CLIENT, ca_file, cert_file, key_file, server_name, out,
		err, errlen);
}

osp_err osp_tls_sign(const char *key_pem, const void *msg, size_t msg_len, uint8_t *sig,
	size_t cap, size_t *sig_len, char *err, size_t errlen)
{
	mbedtls_pk_context pk;
	unsigned char hash[32], buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t n = 0;
	osp_err rv = OSP_OK;

	*sig_len = 0;
	mbedtls_pk_init(&pk);
	if (key_pem == NULL || mbedtls_pk_parse_key(&pk, (const unsigned char *)key_pem,
				       strlen(key_pem) + 1, NULL, 0) != 0) {
		snprintf(err, errlen, "not a PEM private key (without a passphrase)");
		rv = OSP_EINVAL;
		goto out;
	}
	/* mbedtls_pk_sign (2.28) has no output size: sign into a buffer of the
	 * largest size, then copy */
	if (mbedtls_sha256_ret(msg, msg_len, hash, 0) != 0 ||
		mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), buf, &n, osp_tls_rng,
			NULL) != 0) {
		snprintf(err, errlen, "signing failed");
		rv = OSP_EIO;
		goto out;
	}
	if (n > cap) {
		snprintf(err, errlen, "signature of %zu bytes does not fit %zu", n, cap);
		rv = OSP_ETOOBIG;
		goto out;
	}
	memcpy(sig, buf, n);
	*sig_len = n;
out:
	mbedtls_pk_free(&pk);
	return rv;
}

/* osp_tls_name_get copies the value of attribute oid from name into out
 * (printable ASCII only; "" if absent or odd). */
static void osp_tls_name_get(const mbedtls_x509_name *name, const char *oid, size_t oid_len,
	char *out, size_t len)
{
	out[0] = '\0';
	for (; name != NULL; name = name->next) {
		if (name->oid.p == NULL || name->oid.len != oid_len ||
			memcmp(name->oid.p, oid, oid_len) != 0)
			continue;
		if (name->val.len >= len)
			return;
		for (size_t i = 0; i < name->val.len; i++)
			if (name->val.p[i] < 0x20 || name->val.p[i] > 0x7e)
				return;
		memcpy(out, name->val.p, name->val.len);
		out[name->val.len] = '\0';
		return;
	}
}

/* osp_tls_verify_why turns verification flags into one reason. */
static const char *osp_tls_verify_why(uint32_t flags)
{
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return "certificate not signed by the coordinator's CA";
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		return "certificate expired";
	if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		return "certificate not valid yet";
	if (flags & MBEDTLS_X509_BADCERT_REVOKED)
		return "certificate revoked";
	if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
			    MBEDTLS_X509_BADCERT_BAD_KEY))
		return "certificate uses a hash or key that is not allowed";
	if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE))
		return "a certificate in the chain has the wrong key usage";
	return "certificate chain does not verify";
}

/* osp_tls_leaf_usage checks the leaf's usages for a signing client. */
static const char *osp_tls_leaf_usage(const mbedtls_x509_crt *leaf)
{
	if (leaf->ca_istrue)
		return "a CA certificate cannot sign in for a node or an operator";
	if (mbedtls_x509_crt_check_key_usage(leaf, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0)
		return "certificate key usage does not allow digital signatures";
	if (mbedtls_x509_crt_check_extended_key_usage(leaf, MBEDTLS_OID_CLIENT_AUTH,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0)
		return "certificate is not for client authentication (extended key usage)";
	return NULL;
}

/* osp_tls_verify_crt verifies chain (parsed) against ca_file, the leaf's
 * usages and the signature. */
static osp_err osp_tls_verify_crt(const char *ca_file, mbedtls_x509_crt *chain, const void *msg,
	size_t msg_len, const uint8_t *sig, size_t sig_len, char *err, size_t errlen)
{
	mbedtls_x509_crt ca;
	unsigned char hash[32];
	uint32_t flags = 0;
	const char *why;
	osp_err rv = OSP_EPERM;

	mbedtls_x509_crt_init(&ca);
	if (mbedtls_x509_crt_parse_file(&ca, ca_file) != 0) {
		snprintf(err, errlen, "cannot read the CA file '%s'", ca_file);
		rv = OSP_EIO;
		goto out;
	}
	if (mbedtls_x509_crt_verify_with_profile(chain, &ca, NULL,
		    &mbedtls_x509_crt_profile_default, NULL, &flags, NULL, NULL) != 0) {
		snprintf(err, errlen, "%s", osp_tls_verify_why(flags));
		goto out;
	}
	if ((why = osp_tls_leaf_usage(chain)) != NULL) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (sig == NULL || sig_len == 0 || mbedtls_sha256_ret(msg, msg_len, hash, 0) != 0 ||
		mbedtls_pk_verify(&chain->pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
			sig_len) != 0) {
		snprintf(err, errlen, "signature does not match the certificate");
		goto out;
	}
	rv = OSP_OK;
out:
	mbedtls_x509_crt_free(&ca);
	return rv;
}

/* osp_tls_parse_chain parses chain_pem (not necessarily NUL-terminated). */
static osp_err osp_tls_parse_chain(mbedtls_x509_crt *chain, const void *chain_pem,
	size_t chain_len, char *err, size_t errlen)
{
	unsigned char *buf;
	int r;

	if (chain_pem == NULL || chain_len == 0) {
		snprintf(err, errlen, "no certificate presented");
		return OSP_EPERM;
	}
	if (chain_len > OSP_TLS_MAX_PEM) {
		snprintf(err, errlen, "certificate chain longer than %d bytes", OSP_TLS_MAX_PEM);
		return OSP_EPERM;
	}
	/* the PEM parser wants the terminating NUL counted */
	if ((buf = malloc(chain_len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	memcpy(buf, chain_pem, chain_len);
	buf[chain_len] = '\0';
	r = mbedtls_x509_crt_parse(chain, buf, chain_len + 1);
	free(buf);
	if (r != 0) {
		snprintf(err, errlen, "certificate chain is not PEM certificates");
		return OSP_EPERM;
	}
	return OSP_OK;
}

osp_err osp_tls_verify_proof(const char *ca_file, const void *chain_pem, size_t chain_len,
	const void *msg, size_t msg_len, const uint8_t *sig, size_t sig_len, osp_tls_peer *peer,
	char *err, size_t errlen)
{
	mbedtls_x509_crt chain;
	osp_err rv;

	mbedtls_x509_crt_init(&chain);
	if ((rv = osp_tls_parse_chain(&chain, chain_pem, chain_len, err, errlen)) == OSP_OK)
		rv = osp_tls_verify_crt(ca_file, &chain, msg, msg_len, sig, sig_len, err, errlen);
	if (rv == OSP_OK && peer != NULL) {
		osp_tls_name_get(&chain.subject, MBEDTLS_OID_AT_CN,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), peer->cn, sizeof(peer->cn));
		osp_tls_name_get(&chain.subject, MBEDTLS_OID_AT_ORG_UNIT,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORG_UNIT), peer->ou, sizeof(peer->ou));
	}
	mbedtls_x509_crt_free(&chain);
	return rv;
}

osp_err osp_tls_check_cert(const char *ca_file, const char *cert_file, char *err, size_t errlen)
{
	mbedtls_x509_crt ca, crt;
	uint32_t flags = 0;
	osp_err rv = OSP_OK;

	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&ca, ca_file) != 0) {
		snprintf(err, errlen, "cannot read the CA file '%s'", ca_file);
		rv = OSP_EIO;
	} else if (mbedtls_x509_crt_parse_file(&crt, cert_file) != 0) {
		snprintf(err, errlen, "cannot read certificate '%s'", cert_file);
		rv = OSP_EIO;
	} else if (mbedtls_x509_crt_verify_with_profile(&crt, &ca, NULL,
			   &mbedtls_x509_crt_profile_default, NULL, &flags, NULL, NULL) != 0) {
		snprintf(err, errlen, "certificate '%s' against CA '%s': %s", cert_file, ca_file,
			(flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
				? "not signed by this CA"
				: osp_tls_verify_why(flags));
		rv = OSP_EPERM;
	}
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	return rv;
}

size_t osp_tls_register_msg(const uint8_t *nonce, size_t nonce_len, const char *node_id,
	const char *uuid, uint8_t *buf, size_t cap)
{
	static const char ctx[] = OSP_TLS_REGISTER_CONTEXT;
	size_t il = strlen(node_id), ul = strlen(uuid);
	size_t n = sizeof(ctx) + nonce_len + il + 1 + ul;

	if (n > cap)
		return 0;
	memcpy(buf, ctx, sizeof(ctx)); /* with its NUL */
	memcpy(buf + sizeof(ctx), nonce, nonce_len);
	memcpy(buf + sizeof(ctx) + nonce_len, node_id, il + 1);
	memcpy(buf + sizeof(ctx) + nonce_len + il + 1, uuid, ul);
	return n;
}

#define OSP_TLS_REG_MAX 256

osp_err osp_tls_sign_register(const char *key_pem, const uint8_t *nonce, size_t nonce_len,
	const char *node_id, const char *uuid, uint8_t *sig, size_t cap, size_t *sig_len,
	char *err, size_t errlen)
{
	uint8_t msg[OSP_TLS_REG_MAX];
	size_t n = osp_tls_register_msg(nonce, nonce_len, node_id, uuid, msg, sizeof(msg));

	if (n == 0) {
		snprintf(err, errlen, "register message too long");
		return OSP_ETOOBIG;
	}
	return osp_tls_sign(key_pem, msg, n, sig, cap, sig_len, err, errlen);
}

/* osp_tls_has_dns_san reports whether one of crt's DNS SANs is name. */
static bool osp_tls_has_dns_san(const mbedtls_x509_crt *crt, const char *name)
{
	size_t n = strlen(name);

	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next)
		if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME) &&
			s->buf.len == n && memcmp(s->buf.p, name, n) == 0)
			return true;
	return false;
}

/* osp_tls_check_node checks that the verified leaf may be node_id. */
static osp_err osp_tls_check_node(const mbedtls_x509_crt *leaf, const char *node_id, char *err,
	size_t errlen)
{
	char cn[OSP_TLS_MAX_NAME], ou[OSP_TLS_MAX_NAME];

	osp_tls_name_get(&leaf->subject, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN),
		cn, sizeof(cn));
	osp_tls_name_get(&leaf->subject, MBEDTLS_OID_AT_ORG_UNIT,
		MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORG_UNIT), ou, sizeof(ou));
	if (strcmp(ou, "admin") == 0 || strcmp(ou, "viewer") == 0) {
		snprintf(err, errlen, "certificate of %s '%s' cannot register as a node", ou, cn);
		return OSP_EPERM;
	}
	if (strcmp(cn, node_id) == 0 || osp_tls_has_dns_san(leaf, node_id))
		return OSP_OK;
	snprintf(err, errlen, "certificate for '%s' cannot register as '%s'",
		cn[0] ? cn : "(no name)", node_id);
	return OSP_EPERM;
}

osp_err osp_tls_verify_register(const char *ca_file, const void *chain_pem, size_t chain_len,
	const uint8_t *sig, size_t sig_len, const uint8_t *nonce, size_t nonce_len,
	const char *node_id, const char *uuid, char *err, size_t errlen)
{
	mbedtls_x509_crt chain;
	uint8_t msg[OSP_TLS_REG_MAX];
	size_t n;
	osp_err rv;

	if (node_id == NULL || uuid == NULL ||
		(n = osp_tls_register_msg(nonce, nonce_len, node_id, uuid, msg, sizeof(msg))) ==
			0) {
		snprintf(err, errlen, "register without a node id and instance uuid");
		return OSP_EPERM;
	}
	mbedtls_x509_crt_init(&chain);
	rv = osp_tls_parse_chain(&chain, chain_pem, chain_len, err, errlen);
	if (rv == OSP_OK)
		rv = osp_tls_verify_crt(ca_file, &chain, msg, n, sig, sig_len, err, errlen);
	if (rv == OSP_OK)
		rv = osp_tls_check_node(&chain, node_id, err, errlen);
	mbedtls_x509_crt_free(&chain);
	return rv;
}

osp_err osp_tls_ctl_msg(osp_buf *b, const char *request_id, const char *verb, uint64_t ts_ms,
	size_t nargs, const char *const *keys, const char *const *vals)
{
	static const char ctx[] = OSP_TLS_CTL_CONTEXT;
	char ts[32];
	osp_err rv;

	osp_buf_reset(b);
	snprintf(ts, sizeof(ts), "%" PRIu64, ts_ms);
	if ((rv = osp_buf_append(b, ctx, sizeof(ctx))) != OSP_OK ||
		(rv = osp_buf_append(b, request_id ? request_id : "",
			 strlen(request_id ? request_id : "") + 1)) != OSP_OK ||
		(rv = osp_buf_append(b, verb ? verb : "", strlen(verb ? verb : "") + 1)) !=
			OSP_OK ||
		(rv = osp_buf_append(b, ts, strlen(ts) + 1)) != OSP_OK)
		return rv;
	for (size_t i = 0; i < nargs; i++) {
		if ((rv = osp_buf_append(b, keys[i], strlen(keys[i]) + 1)) != OSP_OK ||
			(rv = osp_buf_append(b, vals[i], strlen(vals[i]) + 1)) != OSP_OK)
			return rv;
	}
	return OSP_OK;
}
