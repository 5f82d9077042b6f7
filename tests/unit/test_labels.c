/* test_labels.c - key=value labels and selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ospec/labels.h"

static void test_labels_set_get(void **state)
{
	osp_labels l = { 0 };

	(void)state;
	assert_int_equal(osp_labels_set(&l, "region", "us-east"), OSP_OK);
	assert_int_equal(osp_labels_set(&l, "zone", "us-east-1a"), OSP_OK);
	assert_int_equal(osp_labels_set(&l, "example.com/tier", ""), OSP_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(osp_labels_get(&l, "region"), "us-east");
	assert_string_equal(osp_labels_get(&l, "example.com/tier"), "");
	assert_null(osp_labels_get(&l, "role"));
	assert_null(osp_labels_get(&l, "Region"));

	/* replacing keeps the place and the count */
	assert_int_equal(osp_labels_set(&l, "region", "eu-west"), OSP_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.keys[0], "region");
	assert_string_equal(l.vals[0], "eu-west");
	assert_string_equal(l.keys[1], "zone");
	osp_labels_fini(&l);
	assert_int_equal(l.n, 0);
	osp_labels_fini(&l); /* twice is fine */
	osp_labels_fini(NULL);
}

static void test_labels_invalid_refused(void **state)
{
	osp_labels l = { 0 };
	char long_key[80];

	(void)state;
	memset(long_key, 'k', 64);
	long_key[64] = '\0';
	assert_int_equal(osp_labels_set(&l, "", "x"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, "-lead", "x"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, "with space", "x"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, long_key, "x"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, "k", "a,b"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, "k", "a=b"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, "k", "a b"), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, "k", long_key), OSP_EINVAL);
	assert_int_equal(osp_labels_set(&l, NULL, "x"), OSP_EINVAL);
	assert_int_equal(l.n, 0);
	long_key[63] = '\0';
	assert_int_equal(osp_labels_set(&l, long_key, long_key), OSP_OK);
	osp_labels_fini(&l);
}

static void test_labels_capacity(void **state)
{
	osp_labels l = { 0 };
	char key[16];

	(void)state;
	for (int i = 0; i < OSP_LABELS_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(osp_labels_set(&l, key, "v"), OSP_OK);
	}
	assert_int_equal(osp_labels_set(&l, "one-more", "v"), OSP_ETOOBIG);
	assert_int_equal(l.n, OSP_LABELS_MAX);
	/* replacing an existing key still works when full */
	assert_int_equal(osp_labels_set(&l, "k7", "w"), OSP_OK);
	assert_string_equal(osp_labels_get(&l, "k7"), "w");
	osp_labels_fini(&l);
}

static void test_labels_parse_kv(void **state)
{
	osp_labels l = { 0 };

	(void)state;
	assert_int_equal(osp_labels_parse_kv(&l, "role=web"), OSP_OK);
	assert_int_equal(osp_labels_parse_kv(&l, "empty="), OSP_OK);
	assert_string_equal(osp_labels_get(&l, "role"), "web");
	assert_string_equal(osp_labels_get(&l, "empty"), "");
	assert_int_equal(osp_labels_parse_kv(&l, "novalue"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_kv(&l, "=web"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_kv(&l, "a=b=c"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_kv(&l, "a=b,c=d"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_kv(&l, NULL), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_kv(&l,
		"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=v"), OSP_EINVAL);
	assert_int_equal(l.n, 2);
	osp_labels_fini(&l);
}

static void test_labels_parse_list(void **state)
{
	osp_labels l = { 0 };

	(void)state;
	assert_int_equal(osp_labels_parse_list(&l, "region=us-east,zone=a,role=web"), OSP_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.keys[2], "role");
	assert_string_equal(osp_labels_get(&l, "zone"), "a");
	assert_int_equal(osp_labels_parse_list(&l, ""), OSP_OK);
	assert_int_equal(l.n, 3);
	/* a bad element leaves the set as it was */
	assert_int_equal(osp_labels_parse_list(&l, "zone=b,bad,x=1"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_list(&l, "zone=b,"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_list(&l, ",zone=b"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_list(&l, "zone=b,,x=1"), OSP_EINVAL);
	assert_int_equal(osp_labels_parse_list(&l, "zone=b, x=1"), OSP_EINVAL);
	assert_int_equal(l.n, 3);
	assert_string_equal(osp_labels_get(&l, "zone"), "a");
	assert_null(osp_labels_get(&l, "x"));
	/* later wins within a list */
	assert_int_equal(osp_labels_parse_list(&l, "zone=b,zone=c"), OSP_OK);
	assert_string_equal(osp_labels_get(&l, "zone"), "c");
	assert_int_equal(l.n, 3);
	osp_labels_fini(&l);
}

static void test_labels_match(void **state)
{
	osp_labels node = { 0 }, sel = { 0 };

	(void)state;
	assert_int_equal(osp_labels_parse_list(&node, "region=us-east,zone=a,role=web"), OSP_OK);
	assert_true(osp_labels_match(&node, &sel)); /* empty selector */
	assert_int_equal(osp_labels_parse_list(&sel, "role=web,region=us-east"), OSP_OK);
	assert_true(osp_labels_match(&node, &sel));
	assert_int_equal(osp_labels_set(&sel, "role", "db"), OSP_OK);
	assert_false(osp_labels_match(&node, &sel));
	assert_int_equal(osp_labels_set(&sel, "role", "web"), OSP_OK);
	assert_int_equal(osp_labels_set(&sel, "gpu", "yes"), OSP_OK);
	assert_false(osp_labels_match(&node, &sel)); /* missing key */
	osp_labels_fini(&node);
	assert_false(osp_labels_match(&node, &sel));
	osp_labels_fini(&sel);
	assert_true(osp_labels_match(&node, &sel));
}

static void test_labels_copy(void **state)
{
	osp_labels a = { 0 }, b = { 0 };

	(void)state;
	assert_int_equal(osp_labels_parse_list(&a, "region=us-east,zone=a"), OSP_OK);
	assert_int_equal(osp_labels_parse_list(&b, "old=1,older=2,oldest=3"), OSP_OK);
	assert_int_equal(osp_labels_copy(&b, &a), OSP_OK);
	assert_int_equal(b.n, 2);
	assert_null(osp_labels_get(&b, "old"));
	assert_string_equal(osp_labels_get(&b, "zone"), "a");
	assert_ptr_not_equal(a.keys[0], b.keys[0]); /* deep */
	assert_int_equal(osp_labels_set(&a, "zone", "b"), OSP_OK);
	assert_string_equal(osp_labels_get(&b, "zone"), "a");
	assert_int_equal(osp_labels_copy(&a, &a), OSP_OK);
	assert_int_equal(a.n, 2);
	assert_string_equal(osp_labels_get(&a, "zone"), "b");
	osp_labels_fini(&a);
	osp_labels_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_set_get),
		cmocka_unit_test(test_labels_invalid_refused),
		cmocka_unit_test(test_labels_capacity),
		cmocka_unit_test(test_labels_parse_kv),
		cmocka_unit_test(test_labels_parse_list),
		cmocka_unit_test(test_labels_match),
		cmocka_unit_test(test_labels_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
