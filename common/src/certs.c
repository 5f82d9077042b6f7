/* certs.c - a CA and ospec's certificates with mbedTLS 2.28 (see certs.h). */
#include "ospec/certs.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "ospec/tls.h"
#include "ospec/util.h"

#define OSP_CERTS_PEM_MAX 4096

const char *osp_certs_kind_name(osp_cert_kind kind)
{
	switch (kind) {
	case OSP_CERT_NODE: return "node";
	case OSP_CERT_COORDINATOR: return "coordinator";
	case OSP_CERT_ADMIN: return "admin";
	case OSP_CERT_VIEWER: return "viewer";
	}
	return "?";
}

/* osp_certs_rng is mbedTLS's random callback over getrandom(2). */
static int osp_certs_rng(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	return osp_random_bytes(buf, len) == OSP_OK ? 0 : -1;
}

/* osp_certs_is_ip parses name as an IPv4/IPv6 address into addr; returns its
 * length (4 or 16) or 0. */
static size_t osp_certs_is_ip(const char *name, unsigned char addr[16])
{
	if (name == NULL)
		return 0;
	if (inet_pton(AF_INET, name, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, name, addr) == 1)
		return 16;
	return 0;
}

/* osp_certs_is_host reports whether s is a DNS name (labels of A-Z a-z 0-9 -). */
static bool osp_certs_is_host(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && !(c == '-' && label > 0))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

osp_err osp_certs_check_name(osp_cert_kind kind, const char *name, char *err, size_t errlen)
{
	unsigned char addr[16];

	if (name == NULL || name[0] == '\0') {
		snprintf(err, errlen, "a %s certificate needs a name", osp_certs_kind_name(kind));
		return OSP_EINVAL;
	}
	if (kind == OSP_CERT_COORDINATOR) {
		if (osp_certs_is_ip(name, addr) == 0 && !osp_certs_is_host(name)) {
			snprintf(err, errlen,
				"'%s' is not a host name or an IP address", name);
			return OSP_EINVAL;
		}
		return OSP_OK;
	}
	if (!osp_valid_id(name) || (kind != OSP_CERT_NODE && strlen(name) > OSP_CERTS_MAX_NAME)) {
		snprintf(err, errlen, "'%s' is not a valid %s name (1-%d of A-Z a-z 0-9 . _ -)",
			name, osp_certs_kind_name(kind), kind == OSP_CERT_NODE ? 63 : OSP_CERTS_MAX_NAME);
		return OSP_EINVAL;
	}
	return OSP_OK;
}

void osp_certs_key_free(char *key_pem)
{
	if (key_pem == NULL)
		return;
	mbedtls_platform_zeroize(key_pem, strlen(key_pem));
	free(key_pem);
}

/* osp_certs_gen_key makes an ECDSA P-256 key in pk. */
static int osp_certs_gen_key(mbedtls_pk_context *pk)
{
	int r = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));

	if (r != 0)
		return r;
	return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), osp_certs_rng,
		NULL);
}

/* osp_certs_validity sets not-before (an hour ago, for clock skew) and
 * not-after (days from now). */
static int osp_certs_validity(mbedtls_x509write_cert *crt, int days)
{
	char nb[20], na[20];
	time_t now = time(NULL), from = now - 3600, to = now + (time_t)days * 86400;
	struct tm tm;

	if (gmtime_r(&from, &tm) == NULL || strftime(nb, sizeof(nb), "%Y%m%d%H%M%S", &tm) != 14 ||
		gmtime_r(&to, &tm) == NULL || strftime(na, sizeof(na), "%Y%m%d%H%M%S", &tm) != 14)
		return -1;
	return mbedtls_x509write_crt_set_validity(crt, nb, na);
}

/* osp_certs_serial sets a random positive 128-bit serial number. */
static int osp_certs_serial(mbedtls_x509write_cert *crt)
{
	unsigned char b[16];
	mbedtls_mpi serial;
	int r;

	if (osp_random_bytes(b, sizeof(b)) != OSP_OK)
		return -1;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x01);
	mbedtls_mpi_init(&serial);
	r = mbedtls_mpi_read_binary(&serial, b, sizeof(b));
	if (r == 0)
		r = mbedtls_x509write_crt_set_serial(crt, &serial);
	mbedtls_mpi_free(&serial);
	return r;
}

/* osp_certs_san_ext writes the subjectAltName extension: DNS:dns (may be
 * NULL) and IP addresses ip1/ip2 (lengths 0 to skip). */
static int osp_certs_san_ext(mbedtls_x509write_cert *crt, const char *dns,
	const unsigned char *ip1, size_t ip1_len, const unsigned char *ip2, size_t ip2_len)
{
	unsigned char buf[512], *p = buf + sizeof(buf);
	size_t len = 0;
	int ret;

	if (ip2_len > 0) {
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, ip2, ip2_len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, ip2_len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
						  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS));
	}
	if (ip1_len > 0) {
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, ip1, ip1_len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, ip1_len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
						  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS));
	}
	if (dns != NULL) {
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf,
						  (const unsigned char *)dns, strlen(dns)));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, strlen(dns)));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
						  MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME));
	}
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
					  MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
		MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len);
}

/* osp_certs_eku_ext writes the extendedKeyUsage extension with one purpose. */
static int osp_certs_eku_ext(mbedtls_x509write_cert *crt, const char *oid, size_t oid_len)
{
	unsigned char buf[64], *p = buf + sizeof(buf);
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf, oid, oid_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
					  MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, len);
}

/* osp_certs_issuer copies the CA certificate's subject as the issuer name. */
static int osp_certs_issuer(mbedtls_x509write_cert *crt, const mbedtls_x509_crt *ca)
{
	/* store_named_data prepends and the writer emits the list back to
	 * front, so adding in certificate order keeps that order */
	for (const mbedtls_x509_name *n = &ca->subject; n != NULL; n = n->next) {
		mbedtls_asn1_named_data *d;

		if (n->oid.p == NULL)
			continue;
		d = mbedtls_asn1_store_named_data(&crt->issuer, (const char *)n->oid.p,
			n->oid.len, n->val.p, n->val.len);
		if (d == NULL)
			return -1;
		d->val.tag = n->val.tag; /* the string type, as in the CA */
	}
	return 0;
}

/* osp_certs_pem writes the certificate and the subject key as PEM strings. */
static osp_err osp_certs_pem(mbedtls_x509write_cert *crt, mbedtls_pk_context *key,
	char **cert_pem, char **key_pem, char *err, size_t errlen)
{
	unsigned char *c = calloc(1, OSP_CERTS_PEM_MAX), *k = calloc(1, OSP_CERTS_PEM_MAX);

	if (c == NULL || k == NULL) {
		free(c);
		free(k);
		snprintf(err, errlen, "out of memory");
		return OSP_ENOMEM;
	}
	if (mbedtls_x509write_crt_pem(crt, c, OSP_CERTS_PEM_MAX, osp_certs_rng, NULL) != 0 ||
		mbedtls_pk_write_key_pem(key, k, OSP_CERTS_PEM_MAX) != 0) {
		free(c);
		mbedtls_platform_zeroize(k, OSP_CERTS_PEM_MAX);
		free(k);
		snprintf(err, errlen, "cannot write the certificate");
		return OSP_EIO;
	}
	*cert_pem = (char *)c;
	*key_pem = (char *)k;
	return OSP_OK;
}

/* osp_certs_check_ca_name allows 1-64 of A-Z a-z 0-9 space . _ - */
static bool osp_certs_check_ca_name(const char *cn)
{
	size_t n = cn ? strlen(cn) : 0;

	if (n == 0 || n > 64 || !isalnum((unsigned char)cn[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)cn[i];
		if (!isalnum(ch) && ch != ' ' && ch != '.' && ch != '_' && ch != '-')
			return false;
	}
	return true;
}

osp_err osp_certs_make_ca(const char *cn, int days, char **cert_pem, char **key_pem, char *err,
	size_t errlen)
{
	mbedtls_x509write_cert crt;
	mbedtls_pk_context key;
	char subject[128];
	osp_err rv = OSP_EIO;

	*cert_pem = *key_pem = NULL;
	if (!osp_certs_check_ca_name(cn)) {
		snprintf(err, errlen, "CA name: 1-64 of A-Z a-z 0-9 space . _ -");
		return OSP_EINVAL;
	}
	mbedtls_x509write_crt_init(&crt);
	mbedtls_pk_init(&key);
	snprintf(subject, sizeof(subject), "CN=%s,O=ospec", cn);
	if (osp_certs_gen_key(&key) != 0) {
		snprintf(err, errlen, "cannot make a P-256 key");
		goto out;
	}
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &key);
	if (mbedtls_x509write_crt_set_subject_name(&crt, subject) != 0 ||
		mbedtls_x509write_crt_set_issuer_name(&crt, subject) != 0 ||
		osp_certs_serial(&crt) != 0 ||
		osp_certs_validity(&crt, days > 0 ? days : OSP_CERTS_CA_DAYS) != 0 ||
		mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0) != 0 ||
		mbedtls_x509write_crt_set_subject_key_identifier(&crt) != 0 ||
		mbedtls_x509write_crt_set_authority_key_identifier(&crt) != 0 ||
		mbedtls_x509write_crt_set_key_usage(&crt,
			MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN) != 0) {
		snprintf(err, errlen, "cannot build the CA certificate");
		goto out;
	}
	rv = osp_certs_pem(&crt, &key, cert_pem, key_pem, err, errlen);
out:
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	return rv;
}

/* osp_certs_leaf_exts sets the kind's usages and names on crt. */
static int osp_certs_leaf_exts(mbedtls_x509write_cert *crt, const osp_cert_req *req)
{
	unsigned char a1[16], a2[16];
	size_t l1 = 0, l2 = 0;
	unsigned ku = req->key_usage ? req->key_usage : MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
	bool server = req->kind == OSP_CERT_COORDINATOR;
	int r;

	if ((r = mbedtls_x509write_crt_set_basic_constraints(crt, 0, -1)) != 0 ||
		(r = mbedtls_x509write_crt_set_key_usage(crt, ku)) != 0)
		return r;
	if (!req->no_ext_key_usage &&
		(r = osp_certs_eku_ext(crt, server ? MBEDTLS_OID_SERVER_AUTH : MBEDTLS_OID_CLIENT_AUTH,
			 server ? MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)
				: MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))) != 0)
		return r;
	if (req->no_san || req->kind == OSP_CERT_ADMIN || req->kind == OSP_CERT_VIEWER)
		return 0;
	if (server)
		l1 = osp_certs_is_ip(req->name, a1);
	if (server && req->ip != NULL)
		l2 = osp_certs_is_ip(req->ip, a2);
	return osp_certs_san_ext(crt, req->name, a1, l1, a2, l2);
}

/* osp_certs_load_ca parses the CA's certificate and key and checks they pair. */
static osp_err osp_certs_load_ca(const char *ca_cert_pem, const char *ca_key_pem,
	mbedtls_x509_crt *ca, mbedtls_pk_context *ca_key, char *err, size_t errlen)
{
	if (ca_cert_pem == NULL || mbedtls_x509_crt_parse(ca, (const unsigned char *)ca_cert_pem,
				       strlen(ca_cert_pem) + 1) != 0) {
		snprintf(err, errlen, "the CA certificate is not a PEM certificate");
		return OSP_EINVAL;
	}
	if (!ca->ca_istrue) {
		snprintf(err, errlen, "the CA certificate is not a CA");
		return OSP_EINVAL;
	}
	if (ca_key_pem == NULL ||
		mbedtls_pk_parse_key(ca_key, (const unsigned char *)ca_key_pem,
			strlen(ca_key_pem) + 1, NULL, 0) != 0) {
		snprintf(err, errlen, "the CA key is not a PEM private key");
		return OSP_EINVAL;
	}
	if (mbedtls_pk_check_pair(&ca->pk, ca_key) != 0) {
		snprintf(err, errlen, "the CA key does not belong to the CA certificate");
		return OSP_EINVAL;
	}
	return OSP_OK;
}

osp_err osp_certs_make_leaf(const char *ca_cert_pem, const char *ca_key_pem,
	const osp_cert_req *req, char **cert_pem, char **key_pem, char *err, size_t errlen)
{
	mbedtls_x509write_cert crt;
	mbedtls_x509_crt ca;
	mbedtls_pk_context ca_key, key;
	unsigned char addr[16];
	char subject[160];
	osp_err rv;

	*cert_pem = *key_pem = NULL;
	if ((rv = osp_certs_check_name(req->kind, req->name, err, errlen)) != OSP_OK)
		return rv;
	if (req->ip != NULL && osp_certs_is_ip(req->ip, addr) == 0) {
		snprintf(err, errlen, "'%s' is not an IP address", req->ip);
		return OSP_EINVAL;
	}
	mbedtls_x509write_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&ca_key);
	mbedtls_pk_init(&key);
	if ((rv = osp_certs_load_ca(ca_cert_pem, ca_key_pem, &ca, &ca_key, err, errlen)) != OSP_OK)
		goto out;
	rv = OSP_EIO;
	if (req->kind == OSP_CERT_ADMIN || req->kind == OSP_CERT_VIEWER)
		snprintf(subject, sizeof(subject), "CN=%s,OU=%s,O=ospec", req->name,
			osp_certs_kind_name(req->kind));
	else
		snprintf(subject, sizeof(subject), "CN=%s,O=ospec", req->name);
	if (osp_certs_gen_key(&key) != 0) {
		snprintf(err, errlen, "cannot make a P-256 key");
		goto out;
	}
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &ca_key);
	if (mbedtls_x509write_crt_set_subject_name(&crt, subject) != 0 ||
		osp_certs_issuer(&crt, &ca) != 0 || osp_certs_serial(&crt) != 0 ||
		osp_certs_validity(&crt, req->days > 0 ? req->days : OSP_CERTS_LEAF_DAYS) != 0 ||
		mbedtls_x509write_crt_set_subject_key_identifier(&crt) != 0 ||
		mbedtls_x509write_crt_set_authority_key_identifier(&crt) != 0 ||
		osp_certs_leaf_exts(&crt, req) != 0) {
		snprintf(err, errlen, "cannot build the %s certificate",
			osp_certs_kind_name(req->kind));
		goto out;
	}
	rv = osp_certs_pem(&crt, &key, cert_pem, key_pem, err, errlen);
out:
	mbedtls_x509write_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&ca_key);
	mbedtls_pk_free(&key);
	return rv;
}

/* osp_certs_path writes DIR/NAME.EXT into buf. */
static osp_err osp_certs_path(char *buf, size_t len, const char *dir, const char *name,
	const char *ext, char *err, size_t errlen)
{
	if ((size_t)snprintf(buf, len, "%s/%s.%s", dir, name, ext) >= len) {
		snprintf(err, errlen, "path '%s/%s.%s' is too long", dir, name, ext);
		return OSP_ETOOBIG;
	}
	return OSP_OK;
}

/* osp_certs_write writes data to path through a new temp file of mode. */
static osp_err osp_certs_write(const char *path, const char *data, unsigned mode, char *err,
	size_t errlen)
{
	char tmp[PATH_MAX];
	size_t len = strlen(data), off = 0;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "path '%s' is too long", path);
		return OSP_ETOOBIG;
	}
	unlink(tmp);
	/* O_EXCL: never write a key into a file someone else prepared */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0 || fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return OSP_OK;
fail:
	snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return OSP_EIO;
}

/* osp_certs_file_role names the role of the certificate in the file at path:
 * "CA", "coordinator", "admin", "viewer" or "node" (as osp_certs_make_leaf
 * makes them), or NULL when it holds no certificate that can be read. */
static const char *osp_certs_file_role(const char *path)
{
	mbedtls_x509_crt crt;
	const char *role = NULL;

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&crt, path) != 0)
		goto out;
	if (crt.ca_istrue) {
		role = "CA";
		goto out;
	}
	if ((crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) != 0 &&
		mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0) {
		role = "coordinator";
		goto out;
	}
	role = "node";
	for (const mbedtls_x509_name *n = &crt.subject; n != NULL; n = n->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORG_UNIT, &n->oid) != 0)
			continue;
		if (n->val.len == 5 && memcmp(n->val.p, "admin", 5) == 0)
			role = "admin";
		else if (n->val.len == 6 && memcmp(n->val.p, "viewer", 6) == 0)
			role = "viewer";
	}
out:
	mbedtls_x509_crt_free(&crt);
	return role;
}

/* osp_certs_save writes cert (0644) and key (0600), refusing to replace
 * either unless force. */
static osp_err osp_certs_save(const char *cert_path, const char *key_path, const char *cert,
	const char *key, bool force, char *err, size_t errlen)
{
	osp_err rv;

	if (!force && (access(cert_path, F_OK) == 0 || access(key_path, F_OK) == 0)) {
		snprintf(err, errlen, "'%s' exists already (use --force to replace it)",
			access(key_path, F_OK) == 0 ? key_path : cert_path);
		return OSP_EEXIST;
	}
	if ((rv = osp_certs_write(key_path, key, 0600, err, errlen)) != OSP_OK)
		return rv;
	return osp_certs_write(cert_path, cert, 0644, err, errlen);
}

osp_err osp_certs_init(const char *dir, const char *cn, int days, bool force, char *err,
	size_t errlen)
{
	char cert_path[PATH_MAX], key_path[PATH_MAX], *cert = NULL, *key = NULL;
	osp_err rv;

	if ((rv = osp_certs_path(cert_path, sizeof(cert_path), dir, "ca", "pem", err, errlen)) !=
			OSP_OK ||
		(rv = osp_certs_path(key_path, sizeof(key_path), dir, "ca", "key", err, errlen)) !=
			OSP_OK)
		return rv;
	if (osp_mkdir_p(dir, 0700) != OSP_OK) {
		snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
		return OSP_EIO;
	}
	if (!force && access(key_path, F_OK) == 0) {
		snprintf(err, errlen, "'%s' exists already (use --force to replace the CA)",
			key_path);
		return OSP_EEXIST;
	}
	if ((rv = osp_certs_make_ca(cn ? cn : "ospec-ca", days, &cert, &key, err, errlen)) ==
		OSP_OK)
		rv = osp_certs_save(cert_path, key_path, cert, key, true, err, errlen);
	free(cert);
	osp_certs_key_free(key);
	return rv;
}

osp_err osp_certs_issue(const char *dir, const osp_cert_req *req, bool force, char *cert_path,
	char *key_path, size_t len, char *err, size_t errlen)
{
	char ca_cert_path[PATH_MAX], ca_key_path[PATH_MAX], cp[PATH_MAX], kp[PATH_MAX];
	char *ca_cert = NULL, *ca_key = NULL, *cert = NULL, *key = NULL;
	size_t ca_cert_len = 0, ca_key_len = 0;
	const char *role;
	osp_err rv;

	if ((rv = osp_certs_check_name(req->kind, req->name, err, errlen)) != OSP_OK)
		return rv;
	if ((rv = osp_certs_path(ca_cert_path, sizeof(ca_cert_path), dir, "ca", "pem", err,
		     errlen)) != OSP_OK ||
		(rv = osp_certs_path(ca_key_path, sizeof(ca_key_path), dir, "ca", "key", err,
			 errlen)) != OSP_OK ||
		(rv = osp_certs_path(cp, sizeof(cp), dir, req->name, "pem", err, errlen)) != OSP_OK ||
		(rv = osp_certs_path(kp, sizeof(kp), dir, req->name, "key", err, errlen)) != OSP_OK)
		return rv;
	if (strcmp(req->name, "ca") == 0) {
		snprintf(err, errlen, "'ca' is the CA's own file name; choose another name");
		return OSP_EINVAL;
	}
	if (osp_tls_read_pem(ca_cert_path, &ca_cert, &ca_cert_len) != OSP_OK ||
		osp_tls_read_pem(ca_key_path, &ca_key, &ca_key_len) != OSP_OK) {
		snprintf(err, errlen, "cannot read '%s' and '%s' (run 'ospecctl certs init' first)",
			ca_cert_path, ca_key_path);
		rv = OSP_EIO;
		goto out;
	}
	/* a name can map onto another role's files ("--node 127.0.0.1" onto the
	 * coordinator's): those are never replaced, --force or not */
	role = access(cp, F_OK) == 0 ? osp_certs_file_role(cp) : NULL;
	if (role != NULL && strcmp(role, osp_certs_kind_name(req->kind)) != 0) {
		snprintf(err, errlen, "'%s' holds the %s certificate: a %s certificate must not "
			"replace it (not even with --force); choose another name", cp, role,
			osp_certs_kind_name(req->kind));
		rv = OSP_EEXIST;
		goto out;
	}
	if ((rv = osp_certs_make_leaf(ca_cert, ca_key, req, &cert, &key, err, errlen)) != OSP_OK)
		goto out;
	if ((rv = osp_certs_save(cp, kp, cert, key, force, err, errlen)) != OSP_OK)
		goto out;
	if (cert_path != NULL)
		osp_strlcpy(cert_path, cp, len);
	if (key_path != NULL)
		osp_strlcpy(key_path, kp, len);
out:
	free(ca_cert);
	osp_tls_pem_free(ca_key, ca_key_len);
	free(cert);
	osp_certs_key_free(key);
	return rv;
}
