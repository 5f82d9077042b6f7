/*
 * tls.h - mutual TLS for the agent and control sockets (nng's mbedTLS
 * engine), and the proofs of identity carried inside the protocol.
 *
 * nng 1.5.2 cannot tell a server which certificate its peer presented, so
 * identity is proven in the protocol (DESIGN.md, "Identity"): the peer sends
 * its certificate chain and an ECDSA signature, made with the certificate's
 * private key, over a message that includes a fresh nonce from the server.
 * The server verifies the chain against its CA and the signature with the
 * leaf certificate's public key.
 *
 * Files are read here; key material never appears in an error message.
 */
#ifndef OSPEC_TLS_H
#define OSPEC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "ospec/err.h"
#include "ospec/util.h"

#define OSP_TLS_MAX_PEM (64 * 1024)   /* a certificate chain or key file */
#define OSP_TLS_MAX_SIG 1024          /* a DER signature (ECDSA P-256: at most 72) */
#define OSP_TLS_MAX_NAME 64           /* CN/OU kept from a certificate */
#define OSP_TLS_REGISTER_CONTEXT "ospec-register-v1"
#define OSP_TLS_CTL_CONTEXT "ospec-ctl-v1"

/* What a verified proof says about its signer (the leaf certificate). */
typedef struct osp_tls_peer {
	char cn[OSP_TLS_MAX_NAME];    /* subject CN, "" if none */
	char ou[OSP_TLS_MAX_NAME];    /* subject OU, "" if none: the control role */
} osp_tls_peer;

/* osp_tls_url_is_tls reports whether url starts with "tls+tcp://". */
bool osp_tls_url_is_tls(const char *url);

/*
 * osp_tls_url_host copies the host part of "scheme://HOST:PORT" (brackets of
 * an IPv6 literal removed) into host. OSP_EINVAL if there is none,
 * OSP_ETOOBIG if it does not fit.
 */
osp_err osp_tls_url_host(const char *url, char *host, size_t len);

/*
 * osp_tls_server_config builds a server configuration: own certificate chain
 * and key from cert_file/key_file, peers verified against ca_file, a client
 * certificate REQUIRED. On OSP_OK *out is the caller's (nng_tls_config_free;
 * a listener holds its own reference). Errors: OSP_EIO (a file cannot be
 * read), OSP_ECONFIG (nng/mbedTLS refused a file); err names the file.
 */
osp_err osp_tls_server_config(const char *ca_file, const char *cert_file, const char *key_file,
	nng_tls_config **out, char *err, size_t errlen);

/*
 * osp_tls_client_config builds a client configuration: own certificate and
 * key, the server's certificate verified against ca_file and server_name
 * (the URL's host: CN or a DNS SAN must match), authentication REQUIRED.
 * Ownership and errors as osp_tls_server_config.
 */
osp_err osp_tls_client_config(const char *ca_file, const char *cert_file, const char *key_file,
	const char *server_name, nng_tls_config **out, char *err, size_t errlen);

/*
 * osp_tls_check_cert verifies the certificate chain in cert_file against the
 * CA certificates in ca_file (no name check): a quick self-test before a
 * handshake, whose failures nng reports only as "cryptographic error".
 * OSP_OK, OSP_EIO (unreadable) or OSP_EPERM, err saying why.
 */
osp_err osp_tls_check_cert(const char *ca_file, const char *cert_file, char *err, size_t errlen);

/*
 * osp_tls_sign signs SHA-256(msg) with the private key in key_pem (a
 * NUL-terminated PEM string, e.g. from osp_tls_read_pem). The DER
 * signature goes into sig (cap bytes, OSP_TLS_MAX_SIG is enough), its length
 * into *sig_len. OSP_EINVAL for an unreadable key, OSP_ETOOBIG if sig is
 * too small, OSP_EIO if signing fails.
 */
osp_err osp_tls_sign(const char *key_pem, const void *msg, size_t msg_len,
	uint8_t *sig, size_t cap, size_t *sig_len, char *err, size_t errlen);

/*
 * osp_tls_verify_proof checks a proof: chain_pem (one or more PEM
 * certificates, the signer's first) must verify against the CA certificates
 * in ca_file; the leaf's key usage must allow digitalSignature and its
 * extended key usage clientAuth (each only when the extension is present);
 * sig must be the leaf key's signature over SHA-256(msg). On OSP_OK *peer
 * (may be NULL) holds the leaf's CN and OU. Returns OSP_EPERM with err
 * saying why ("certificate not signed by the coordinator's CA", "signature
 * does not match the certificate", ...), OSP_EIO if ca_file cannot be read.
 */
osp_err osp_tls_verify_proof(const char *ca_file, const void *chain_pem, size_t chain_len,
	const void *msg, size_t msg_len, const uint8_t *sig, size_t sig_len, osp_tls_peer *peer,
	char *err, size_t errlen);

/*
 * osp_tls_register_msg builds the message a register proof signs:
 * "ospec-register-v1\0" || nonce || node_id || "\0" || uuid, into buf (cap
 * bytes). Returns its length, or 0 if it does not fit.
 */
size_t osp_tls_register_msg(const uint8_t *nonce, size_t nonce_len, const char *node_id,
	const char *uuid, uint8_t *buf, size_t cap);

/*
 * osp_tls_sign_register signs the register message of (nonce, node_id,
 * uuid) with key_pem. Output and errors as osp_tls_sign.
 */
osp_err osp_tls_sign_register(const char *key_pem, const uint8_t *nonce,
	size_t nonce_len, const char *node_id, const char *uuid, uint8_t *sig, size_t cap,
	size_t *sig_len, char *err, size_t errlen);

/*
 * osp_tls_verify_register verifies a register proof: osp_tls_verify_proof
 * over the register message, then the leaf's CN or one of its DNS SANs must
 * equal node_id ("certificate for 'web-1' cannot register as 'web-2'"), and
 * a certificate made for an operator role (OU admin/viewer) is refused.
 * OSP_OK, or OSP_EPERM/OSP_EIO with err saying why.
 */
osp_err osp_tls_verify_register(const char *ca_file, const void *chain_pem, size_t chain_len,
	const uint8_t *sig, size_t sig_len, const uint8_t *nonce, size_t nonce_len,
	const char *node_id, const char *uuid, char *err, size_t errlen);

/*
 * osp_tls_ctl_msg writes into b (reset first) the message a control request
 * proof signs: "ospec-ctl-v1\0" || request_id "\0" || verb "\0" || ts_ms in
 * decimal "\0" || then key "\0" value "\0" for each argument, in order.
 * OSP_ENOMEM/OSP_ETOOBIG from the buffer.
 */
osp_err osp_tls_ctl_msg(osp_buf *b, const char *request_id, const char *verb, uint64_t ts_ms,
	size_t nargs, const char *const *keys, const char *const *vals);

/* osp_tls_read_pem reads a PEM file of at most OSP_TLS_MAX_PEM bytes into a
 * NUL-terminated heap buffer (*data, *len without the NUL). The caller frees
 * *data with osp_tls_pem_free (which wipes it). OSP_EIO/OSP_ETOOBIG. */
osp_err osp_tls_read_pem(const char *path, char **data, size_t *len);

/* osp_tls_pem_free wipes and frees a buffer from osp_tls_read_pem; accepts NULL. */
void osp_tls_pem_free(char *data, size_t len);

#endif
