/* The signed request of a call: what is sent is what is signed (reference §7). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/cloudwire.h"

#define VEC_AK "QTWAOYTTINDUT2QVKYUC"
#define VEC_SK "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
#define VEC_NOW_MS (1573789015LL * 1000) /* 20191115T033655Z */

static char vec_ak[] = VEC_AK;
static char vec_sk[] = VEC_SK;

static const struct cloudwire_call vec_call = {
    .method = "GET",
    .base = "https://service.region.example.com:443",
    .path = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
    .query = "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
};

/* The value of the header called name, or NULL. */
static const char *
header(const struct cloudwire *w, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < w->nheaders; i++)
		if (strncmp(w->headers[i], name, len) == 0 && w->headers[i][len] == ':')
			return w->headers[i] + len + 2;
	return NULL;
}

static void
test_the_official_vector_is_signed_as_the_sdk_signs_it(void **state)
{
	struct credentials cr = {.ak = vec_ak, .sk = vec_sk};
	struct cloudwire w;

	assert_int_equal(cloudwire_sign(&vec_call, &cr, VEC_NOW_MS, &w), 0);
	assert_string_equal(w.url,
	    "https://service.region.example.com:443"
	    "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
	    "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0");
	assert_string_equal(header(&w, "Host"), "service.region.example.com");
	assert_string_equal(header(&w, "X-Sdk-Date"), "20191115T033655Z");
	assert_string_equal(header(&w, "Authorization"),
	    "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, "
	    "SignedHeaders=content-type;host;x-sdk-date, "
	    "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe");
	cloudwire_free(&w);
}

static void
test_the_project_and_the_token_are_sent_and_signed(void **state)
{
	char token[] = "tok";
	struct credentials cr = {.ak = vec_ak, .sk = vec_sk, .security_token = token};
	struct cloudwire_call call = vec_call;
	struct cloudwire w;

	call.project_id = "p1";
	assert_int_equal(cloudwire_sign(&call, &cr, VEC_NOW_MS, &w), 0);
	assert_string_equal(header(&w, "X-Project-Id"), "p1");
	assert_string_equal(header(&w, "X-Security-Token"), "tok");
	assert_non_null(strstr(header(&w, "Authorization"),
	    "SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token,"));
	/* Authorization is sent last, after every header it signs. */
	assert_non_null(strstr(w.headers[w.nheaders - 1], "Authorization: "));
	cloudwire_free(&w);
}

static void
test_a_base_that_is_not_a_url_is_refused(void **state)
{
	struct credentials cr = {.ak = vec_ak, .sk = vec_sk};
	struct cloudwire_call call = vec_call;
	struct cloudwire w;

	call.base = "service.region.example.com";
	assert_int_equal(cloudwire_sign(&call, &cr, VEC_NOW_MS, &w), -EINVAL);
	assert_int_equal(w.nheaders, 0);
	cloudwire_free(&w);
}

static void
test_the_host_leaves_out_only_the_schemes_default_port(void **state)
{
	char *h;

	assert_string_equal(h = cloudwire_authority("https://h.example:443/x"), "h.example");
	free(h);
	assert_string_equal(h = cloudwire_authority("http://[::1]:8080/"), "[::1]:8080");
	free(h);
	assert_string_equal(h = cloudwire_authority("http://h.example:80"), "h.example");
	free(h);
	assert_string_equal(h = cloudwire_authority("https://h.example:80"), "h.example:80");
	free(h);
	assert_null(cloudwire_authority("https:///path"));
}

static void
test_the_base_loses_its_trailing_slashes(void **state)
{
	char *b = cloudwire_base("https://h.example//");

	assert_string_equal(b, "https://h.example");
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_official_vector_is_signed_as_the_sdk_signs_it),
	    cmocka_unit_test(test_the_project_and_the_token_are_sent_and_signed),
	    cmocka_unit_test(test_a_base_that_is_not_a_url_is_refused),
	    cmocka_unit_test(test_the_host_leaves_out_only_the_schemes_default_port),
	    cmocka_unit_test(test_the_base_loses_its_trailing_slashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
