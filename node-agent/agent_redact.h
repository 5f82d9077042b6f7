/*
 * agent_redact.h - secrets out of text an app wrote. The stderr tail of a
 * failed app goes into the step's reason, and from there into the
 * coordinator's log, store, `status`, `history` and `deploy --wait`: an app
 * that prints its environment must not publish the values of its env_file
 * (agent config apps.<app>.env_file) that way.
 *
 * A value is redacted wherever it occurs in the text, when it is at least
 * AGENT_REDACT_MIN bytes long (shorter ones, like "1" or "yes", would blank
 * out ordinary words). The text is assumed to be a tail: a value cut by its
 * start or its end (at least AGENT_REDACT_MIN bytes of it) is redacted too.
 */
#ifndef AGENT_REDACT_H
#define AGENT_REDACT_H

#include <stddef.h>

#include "ospec/err.h"

#define AGENT_REDACT_MIN 4             /* bytes: shorter values are left alone */
#define AGENT_REDACT_MARK "[redacted]"  /* what a value becomes */
#define AGENT_REDACT_MAX_VALUES 1024    /* values of one set */

/* A set of secret values (embedded; _init/_fini). */
typedef struct agent_redact {
	struct agent_redact_val {
		char *s;
		size_t len;
	} *v;
	size_t n, cap;
} agent_redact;

/* agent_redact_init makes r an empty set. */
void agent_redact_init(agent_redact *r);

/* agent_redact_fini frees the values of r (zeroed memory is fine). */
void agent_redact_fini(agent_redact *r);

/* agent_redact_add adds a copy of value (len bytes) to r; values shorter
 * than AGENT_REDACT_MIN and repeats are skipped (OSP_OK). OSP_ENOMEM;
 * OSP_ETOOBIG past AGENT_REDACT_MAX_VALUES. */
osp_err agent_redact_add(agent_redact *r, const char *value, size_t len);

/*
 * agent_redact_env_file adds the values of the env file path to r, read as
 * the runner reads it (KEY=VALUE lines, blank lines and '#' comments
 * skipped, "export " allowed, one pair of quotes stripped; PORT, OSPEC_APP
 * and OSPEC_SLOT are the agent's own and skipped). Only a regular file is
 * read (agent_regfile.h). Returns OSP_OK or the errors of
 * agent_regfile_read and agent_redact_add, with err (errlen bytes) saying
 * why.
 */
osp_err agent_redact_env_file(agent_redact *r, const char *path, char *err, size_t errlen);

/*
 * agent_redact_apply copies the NUL-terminated in to out (outlen bytes,
 * always NUL-terminated when outlen > 0) with every value of r replaced by
 * AGENT_REDACT_MARK; at each place the longest value that matches wins.
 * Returns OSP_OK, OSP_ETOOBIG when out was too small (out holds a cut copy,
 * redacted as far as it goes), OSP_EINVAL (out NULL or outlen 0).
 */
osp_err agent_redact_apply(const agent_redact *r, const char *in, char *out, size_t outlen);

/*
 * agent_redact_env_text redacts text (len bytes of buffer, NUL-terminated)
 * in place with the values of the env file path (NULL: nothing to do).
 * Returns OSP_OK (the result may be cut to len - 1 bytes, since a mark can
 * be longer than the value it replaces); on any other result, which are
 * those of agent_redact_env_file, text is left as it was and the caller
 * must not show it.
 */
osp_err agent_redact_env_text(const char *path, char *text, size_t len, char *err,
	size_t errlen);

#endif
