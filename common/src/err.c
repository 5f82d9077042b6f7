/* err.c - descriptions of osp_err codes. */
#include <stddef.h>

#include "ospec/err.h"

static const char *const osp_err_text[OSP_ERR_COUNT] = {
	[OSP_OK] = "ok",
	[OSP_ENOMEM] = "out of memory",
	[OSP_EINVAL] = "invalid argument",
	[OSP_ETOOBIG] = "too big",
	[OSP_ENOENT] = "not found",
	[OSP_EEXIST] = "already exists",
	[OSP_EIO] = "i/o error",
	[OSP_ESTORE] = "store error",
	[OSP_EMAPFULL] = "store is full (raise map_size)",
	[OSP_ESCHEMA] = "unknown store schema version",
	[OSP_ELOCKED] = "locked by another process",
	[OSP_ENET] = "network error",
	[OSP_ETIMEDOUT] = "timed out",
	[OSP_EVERSION] = "unsupported protocol version",
	[OSP_EDECODE] = "undecodable message",
	[OSP_EPERM] = "permission denied",
	[OSP_ESTATE] = "not allowed in the current state",
	[OSP_ECLOSED] = "closed",
	[OSP_EBUSY] = "busy",
	[OSP_ECONFIG] = "configuration error",
	[OSP_EREFUSED] = "refused",
	[OSP_ECHECKSUM] = "checksum mismatch",
};

const char *osp_strerror(osp_err err)
{
	if ((int)err < 0 || err >= OSP_ERR_COUNT || osp_err_text[err] == NULL)
		return "unknown error";
	return osp_err_text[err];
}
