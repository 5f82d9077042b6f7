/*
 * test_url_redact.c - osp_url_redact (common/src/url_redact.c): artifact
 * URLs lose their userinfo and the values of signature and token
 * parameters, and keep everything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ospec/url_redact.h"

/* redacts checks that url becomes want. */
static void redacts(const char *url, const char *want)
{
	char out[1024];

	assert_int_equal(osp_url_redact(url, out, sizeof(out)), OSP_OK);
	assert_string_equal(out, want);
}

static void test_url_redact_userinfo(void **state)
{
	(void)state;
	redacts("https://user:pass@host.example/a/b.tgz", "https://host.example/a/b.tgz");
	redacts("https://user@host.example:8443/a.tgz", "https://host.example:8443/a.tgz");
	/* the last '@' of the authority ends the userinfo */
	redacts("http://us@er:p@ss@host/x", "http://host/x");
	redacts("https://user:pass@host", "https://host");
	redacts("https://user:pass@host?x=1", "https://host?x=1");
	/* an '@' in the path or query is not userinfo */
	redacts("https://host/a@b/c.tgz?by=me@x", "https://host/a@b/c.tgz?by=me@x");
	/* no scheme: curl would read it as http */
	redacts("user:pass@host/x.tgz", "host/x.tgz");
	redacts("file:///srv/a.tgz", "file:///srv/a.tgz");
	redacts("/srv/a@b.tgz", "/srv/a@b.tgz");
	redacts("", "");
}

static void test_url_redact_signed_query(void **state)
{
	(void)state;
	redacts("https://b.s3.amazonaws.com/app.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
		"&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
		"&X-Amz-Security-Token=FQoGZXIvYXdzEJr&X-Amz-Signature=deadbeef",
		"https://b.s3.amazonaws.com/app.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=REDACTED&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900"
		"&X-Amz-SignedHeaders=host&X-Amz-Security-Token=REDACTED"
		"&X-Amz-Signature=REDACTED");
	redacts("https://storage.googleapis.com/b/a.tgz?X-Goog-Algorithm=GOOG4-RSA-SHA256"
		"&X-Goog-Credential=svc%40p.iam&X-Goog-Signature=0a1b",
		"https://storage.googleapis.com/b/a.tgz?X-Goog-Algorithm=GOOG4-RSA-SHA256"
		"&X-Goog-Credential=REDACTED&X-Goog-Signature=REDACTED");
	/* Azure SAS, a v2 S3 signature, OAuth and API tokens, case-insensitive */
	redacts("https://a.blob.core.windows.net/c/a.tgz?sv=2022-11-02&se=2030&sp=r&sig=abc%3D",
		"https://a.blob.core.windows.net/c/a.tgz?sv=2022-11-02&se=2030&sp=r&sig=REDACTED");
	redacts("https://h/a.tgz?AWSAccessKeyId=AKIA&Expires=1&Signature=xyz",
		"https://h/a.tgz?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED");
	redacts("https://h/a.tgz?TOKEN=t&access_token=a;Private-Token=p&v=2",
		"https://h/a.tgz?TOKEN=REDACTED&access_token=REDACTED;Private-Token=REDACTED&v=2");
	redacts("https://h/a.tgz?api_key=k&client_secret=s&password=p",
		"https://h/a.tgz?api_key=REDACTED&client_secret=REDACTED&password=REDACTED");
	/* a percent-encoded name is still recognised */
	redacts("https://h/a.tgz?X%2DAmz%2DSignature=s&si%67=t",
		"https://h/a.tgz?X%2DAmz%2DSignature=REDACTED&si%67=REDACTED");
	/* the fragment too (OAuth puts tokens there) */
	redacts("https://h/a.tgz?v=1#access_token=abc&state=x",
		"https://h/a.tgz?v=1#access_token=REDACTED&state=x");
	/* names that only contain a secret word, empty values, no value */
	redacts("https://h/a.tgz?signed=1&tokens=2&sig=&token&&=x",
		"https://h/a.tgz?signed=1&tokens=2&sig=REDACTED&token&&=x");
	/* both at once */
	redacts("https://u:p@h/a.tgz?token=t", "https://h/a.tgz?token=REDACTED");
}

static void test_url_redact_cut(void **state)
{
	const char *url = "https://user:hunter2@h/a.tgz?sig=hunter3";
	char out[64], small[20];

	(void)state;
	/* every cut of the output is a prefix of the redacted URL: no byte of a
	 * secret, whatever the buffer size */
	for (size_t len = 1; len <= sizeof(out); len++) {
		osp_err rv = osp_url_redact(url, out, len);
		assert_true(strlen(out) < len);
		assert_null(strstr(out, "hunter"));
		assert_int_equal(strncmp(out, "https://h/a.tgz?sig=REDACTED", strlen(out)), 0);
		assert_int_equal(rv, len > strlen("https://h/a.tgz?sig=REDACTED") ? OSP_OK
										     : OSP_ETOOBIG);
	}
	assert_int_equal(osp_url_redact(NULL, small, sizeof(small)), OSP_EINVAL);
	assert_string_equal(small, "");
	assert_int_equal(osp_url_redact(url, NULL, 10), OSP_EINVAL);
	assert_int_equal(osp_url_redact(url, small, 0), OSP_EINVAL);
}

static void test_url_redact_param_secret(void **state)
{
	(void)state;
	assert_true(osp_url_param_secret("X-Amz-Signature", 15));
	assert_true(osp_url_param_secret("x-amz-credential", 16));
	assert_true(osp_url_param_secret("Signature", 9));
	assert_true(osp_url_param_secret("SIG", 3));
	assert_true(osp_url_param_secret("token", 5));
	assert_true(osp_url_param_secret("access_token", 12));
	assert_true(osp_url_param_secret("X-Goog-Signature", 16));
	assert_false(osp_url_param_secret("sig", 2)); /* "si" */
	assert_false(osp_url_param_secret("version", 7));
	assert_false(osp_url_param_secret("X-Amz-Date", 10));
	assert_false(osp_url_param_secret("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_redact_userinfo),
		cmocka_unit_test(test_url_redact_signed_query),
		cmocka_unit_test(test_url_redact_cut),
		cmocka_unit_test(test_url_redact_param_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
