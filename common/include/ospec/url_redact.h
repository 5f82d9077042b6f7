/*
 * url_redact.h - URLs made safe to show, log and store: credentials out.
 *
 * An artifact URL may carry a password ("https://user:pass@host/...") or a
 * pre-signed query ("?X-Amz-Credential=...&X-Amz-Signature=..."). Whatever
 * a viewer, a log or a store record gets is the redacted form; only the
 * agent's fetch ever uses the URL as given.
 */
#ifndef OSPEC_URL_REDACT_H
#define OSPEC_URL_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "ospec/err.h"

/* The text that replaces a secret parameter's value. */
#define OSP_URL_REDACTED "REDACTED"

/*
 * osp_url_redact copies url into out (len bytes, always NUL-terminated when
 * len > 0) with
 *   - the userinfo ("user:password@" before the host) removed, and
 *   - the value of every secret query or fragment parameter replaced with
 *     OSP_URL_REDACTED (osp_url_param_secret says which names are secret);
 * everything else (scheme, host, port, path, other parameters) is kept as
 * is, so the result still says which artifact was meant. Parameters are
 * separated by '&' or ';'; a name is compared after percent-decoding.
 *
 * The output never holds a byte of a removed secret, even when it is cut.
 * Returns OSP_OK; OSP_ETOOBIG when out was too small (out holds a cut, still
 * redacted, copy); OSP_EINVAL when url or out is NULL or len is 0 (out is
 * set to "" when it can be).
 */
osp_err osp_url_redact(const char *url, char *out, size_t len);

/*
 * osp_url_param_secret reports whether a query parameter named name (len
 * bytes, already percent-decoded) holds a secret. Case-insensitive; secret
 * are sig, api_key, apikey, api-key, x-api-key, passwd, pwd, AWSAccessKeyId,
 * GoogleAccessId and every name ending in "signature", "credential",
 * "token", "secret" or "password" (Signature, X-Amz-Signature,
 * X-Amz-Credential, X-Amz-Security-Token, X-Goog-Signature,
 * X-Goog-Credential, token, access_token, client_secret, ...).
 */
bool osp_url_param_secret(const char *name, size_t len);

#endif
