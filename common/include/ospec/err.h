/*
 * err.h - the one error enum of ospec.
 *
 * Library codes (MDB_*, CURLE_*, NNG_*, protobuf-c NULL returns) are converted
 * at module boundaries into these.
 */
#ifndef OSPEC_ERR_H
#define OSPEC_ERR_H

typedef enum osp_err {
	OSP_OK = 0,
	OSP_ENOMEM,     /* allocation failed */
	OSP_EINVAL,     /* invalid argument or malformed input */
	OSP_ETOOBIG,    /* a size or count limit was exceeded */
	OSP_ENOENT,     /* not found */
	OSP_EEXIST,     /* already exists */
	OSP_EIO,        /* an I/O or system call failed */
	OSP_ESTORE,     /* the LMDB store failed */
	OSP_EMAPFULL,   /* the LMDB map is full */
	OSP_ESCHEMA,    /* the store has an unknown schema version */
	OSP_ELOCKED,    /* the directory is locked by another process */
	OSP_ENET,       /* a network operation failed */
	OSP_ETIMEDOUT,  /* a deadline passed */
	OSP_EVERSION,   /* unsupported protocol version */
	OSP_EDECODE,    /* a message could not be decoded */
	OSP_EPERM,      /* not allowed */
	OSP_ESTATE,     /* the operation does not fit the current state */
	OSP_ECLOSED,    /* the object was closed or is shutting down */
	OSP_EBUSY,      /* already in progress, or refused because of another */
	OSP_ECONFIG,    /* configuration error */
	OSP_EREFUSED,   /* the peer refused */
	OSP_ECHECKSUM,  /* checksum mismatch */
	OSP_ERR_COUNT
} osp_err;

/* osp_strerror returns a static, lowercase description of err. */
const char *osp_strerror(osp_err err);

#endif
