/*
 * certs.h - make a CA and the certificates ospec needs (mbedTLS): ECDSA
 * P-256 keys, SHA-256 signatures, the right names and usages per kind.
 *
 *   kind         subject                      key usage          ext. key usage  SAN
 *   CA           CN=<name>,O=ospec            keyCertSign,cRLSign  -             -
 *   node         CN=<id>,O=ospec              digitalSignature   clientAuth      DNS:<id>
 *   coordinator  CN=<name>,O=ospec            digitalSignature   serverAuth      DNS:<name> [IP]
 *   admin        CN=<name>,OU=admin,O=ospec   digitalSignature   clientAuth      -
 *   viewer       CN=<name>,OU=viewer,O=ospec  digitalSignature   clientAuth      -
 *
 * mbedTLS 2.28 (the agents' and ospecctl's TLS) matches a host name only
 * against the CN and DNS SANs, so a coordinator named by an IP address gets
 * that address as a DNS SAN as well as an IP SAN.
 */
#ifndef OSPEC_CERTS_H
#define OSPEC_CERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "ospec/err.h"

#define OSP_CERTS_CA_DAYS 3650
#define OSP_CERTS_LEAF_DAYS 825
#define OSP_CERTS_MAX_NAME 58   /* "cert:" + name fits an actor field */

typedef enum osp_cert_kind {
	OSP_CERT_NODE = 0,
	OSP_CERT_COORDINATOR,
	OSP_CERT_ADMIN,
	OSP_CERT_VIEWER,
} osp_cert_kind;

/* What to issue. Zero fields take the kind's defaults. */
typedef struct osp_cert_req {
	osp_cert_kind kind;
	const char *name;         /* node id, host name or IP, operator name */
	const char *ip;           /* optional extra IP SAN (coordinator) */
	int days;                 /* validity; 0: OSP_CERTS_LEAF_DAYS */
	unsigned key_usage;       /* MBEDTLS_X509_KU_* bits; 0: the kind's */
	bool no_ext_key_usage;    /* leave the extended key usage out */
	bool no_san;              /* leave the subject alternative names out */
} osp_cert_req;

/* osp_certs_kind_name returns "node", "coordinator", "admin" or "viewer". */
const char *osp_certs_kind_name(osp_cert_kind kind);

/*
 * osp_certs_check_name checks a name for kind: node names are ids (1-63 of
 * A-Z a-z 0-9 . _ -, starting alphanumeric), admin/viewer names the same
 * with at most 58, a coordinator name is a host name or an IP address. OSP_EINVAL with err saying why.
 */
osp_err osp_certs_check_name(osp_cert_kind kind, const char *name, char *err, size_t errlen);

/*
 * osp_certs_make_ca makes a self-signed CA (ECDSA P-256, days of validity,
 * 0 for OSP_CERTS_CA_DAYS) named cn. On OSP_OK *cert_pem and *key_pem are
 * NUL-terminated heap strings, the caller's (free the key with
 * osp_certs_key_free). OSP_EINVAL (bad name), OSP_EIO (mbedTLS failed).
 */
osp_err osp_certs_make_ca(const char *cn, int days, char **cert_pem, char **key_pem, char *err,
	size_t errlen);

/*
 * osp_certs_make_leaf issues a certificate for req signed by the CA in
 * ca_cert_pem/ca_key_pem (NUL-terminated PEM). Output as osp_certs_make_ca.
 * OSP_EINVAL (bad name or CA files: err says which), OSP_EIO.
 */
osp_err osp_certs_make_leaf(const char *ca_cert_pem, const char *ca_key_pem,
	const osp_cert_req *req, char **cert_pem, char **key_pem, char *err, size_t errlen);

/* osp_certs_key_free wipes and frees a key string; accepts NULL. */
void osp_certs_key_free(char *key_pem);

/*
 * osp_certs_init writes DIR/ca.pem (0644) and DIR/ca.key (0600), creating
 * DIR (0700) if needed. An existing ca.key is kept (OSP_EEXIST) unless
 * force. Errors as osp_certs_make_ca, plus OSP_EIO for files.
 */
osp_err osp_certs_init(const char *dir, const char *cn, int days, bool force, char *err,
	size_t errlen);

/*
 * osp_certs_issue reads DIR/ca.pem and DIR/ca.key and writes DIR/<name>.pem
 * (0644) and DIR/<name>.key (0600) for req. Existing files are kept
 * (OSP_EEXIST) unless force; files of another role (DIR/<name>.pem made for
 * another kind, or a CA) are kept even with force (OSP_EEXIST). The paths written go to cert_path/key_path
 * (may be NULL; len bytes each).
 */
osp_err osp_certs_issue(const char *dir, const osp_cert_req *req, bool force, char *cert_path,
	char *key_path, size_t len, char *err, size_t errlen);

#endif
