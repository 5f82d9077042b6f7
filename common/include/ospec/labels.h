/*
 * labels.h - a small ordered set of key=value labels (region, zone, role, ...).
 */
#ifndef OSPEC_LABELS_H
#define OSPEC_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "ospec/err.h"

#define OSP_LABELS_MAX 64

/* { 0 } is the empty set. The arrays grow as labels are set (a node of a
 * large fleet has a few labels: inline room for 64 was 1 KB a node). A
 * set moves by assignment (its arrays go with it); osp_labels_fini frees. */
typedef struct osp_labels {
	size_t n, cap;
	char **keys;
	char **vals;
} osp_labels;

/* osp_labels_set adds or replaces key=value (copied). OSP_EINVAL for an invalid
 * key or value (osp_valid_label), OSP_ETOOBIG past OSP_LABELS_MAX. */
osp_err osp_labels_set(osp_labels *l, const char *key, const char *value);

/* osp_labels_get returns the value of key or NULL. */
const char *osp_labels_get(const osp_labels *l, const char *key);

/* osp_labels_parse_kv parses "K=V" and sets it. */
osp_err osp_labels_parse_kv(osp_labels *l, const char *kv);

/* osp_labels_parse_list parses "K=V,K2=V2" (a selector) and sets each. */
osp_err osp_labels_parse_list(osp_labels *l, const char *list);

/* osp_labels_match reports whether every label of sel is present in l with the
 * same value (an empty selector matches everything). */
bool osp_labels_match(const osp_labels *l, const osp_labels *sel);

/* osp_labels_copy replaces dst with a copy of src. */
osp_err osp_labels_copy(osp_labels *dst, const osp_labels *src);

/* osp_labels_fini frees the strings; accepts zeroed memory. */
void osp_labels_fini(osp_labels *l);

#endif
