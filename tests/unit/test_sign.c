/* SDK-HMAC-SHA256 signing: the official vector and each rule of reference §7. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/sign.h"

#define VEC_AK "QTWAOYTTINDUT2QVKYUC"
#define VEC_SK "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct sign_header vec_headers[] = {
    {"Host", "service.region.example.com"},
    {"Content-Type", "application/json"},
    {"X-Sdk-Date", "20191115T033655Z"},
};

static const struct sign_request vec_request = {
    .method = "GET",
    .path = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
    .query = "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
    .body = NULL,
    .body_len = 0,
    .headers = vec_headers,
    .nheaders = 3,
};

static void
assert_uri(const char *path, const char *want)
{
	char *out = NULL;

	assert_int_equal(sign_canonical_uri(path, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void
assert_query(const char *query, const char *want)
{
	char *out = NULL;

	assert_int_equal(sign_canonical_query(query, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void
test_official_vector_canonical_request(void **state)
{
	char *creq = NULL;

	assert_int_equal(sign_canonical_request(&vec_request, &creq), 0);
	assert_string_equal(creq,
	    "GET\n"
	    "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
	    "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n"
	    "content-type:application/json\n"
	    "host:service.region.example.com\n"
	    "x-sdk-date:20191115T033655Z\n"
	    "\n"
	    "content-type;host;x-sdk-date\n" EMPTY_SHA256);
	free(creq);
}

static void
test_official_vector_canonical_request_hash(void **state)
{
	char *creq = NULL, hash[SIGN_HEX_LEN];

	assert_int_equal(sign_canonical_request(&vec_request, &creq), 0);
	assert_int_equal(sign_sha256_hex(creq, strlen(creq), hash), 0);
	assert_string_equal(
	    hash, "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a");
	free(creq);
}

static void
test_official_vector_string_to_sign(void **state)
{
	char *auth = NULL, *sts = NULL;

	assert_int_equal(sign_authorization(&vec_request, VEC_AK, VEC_SK, &auth, &sts), 0);
	assert_string_equal(sts,
	    "SDK-HMAC-SHA256\n20191115T033655Z\n"
	    "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a");
	free(auth);
	free(sts);
}

static void
test_official_vector_authorization(void **state)
{
	char *auth = NULL;

	assert_int_equal(sign_authorization(&vec_request, VEC_AK, VEC_SK, &auth, NULL), 0);
	assert_string_equal(auth,
	    "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, "
	    "SignedHeaders=content-type;host;x-sdk-date, "
	    "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe");
	free(auth);
}

static void
test_header_order_does_not_change_the_signature(void **state)
{
	const struct sign_header shuffled[] = {
	    {"X-Sdk-Date", "20191115T033655Z"},
	    {"content-type", "application/json"},
	    {"HOST", "  service.region.example.com\t"},
	};
	struct sign_request req = vec_request;
	char *a = NULL, *b = NULL;

	req.headers = shuffled;
	assert_int_equal(sign_authorization(&vec_request, VEC_AK, VEC_SK, &a, NULL), 0);
	assert_int_equal(sign_authorization(&req, VEC_AK, VEC_SK, &b, NULL), 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void
test_sdk_canonical_query_example(void **state)
{
	/* The SDK's own test, fed in a shuffled order with some values pre-encoded. */
	assert_query("test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29&multi=3&path=/tmp/123"
	             "&multi=1&limit=1&enable=true&multi=2",
	    "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123"
	    "&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29");
}

static void
test_query_keys_are_sorted(void **state)
{
	assert_query("b=2&a=1&c=3", "a=1&b=2&c=3");
}

static void
test_query_repeated_key_values_are_sorted(void **state)
{
	assert_query("k=z&k=a&k=m", "k=a&k=m&k=z");
}

static void
test_query_empty_value_keeps_equals(void **state)
{
	assert_query("flag=&x=1", "flag=&x=1");
}

static void
test_query_key_without_equals_gets_one(void **state)
{
	assert_query("flag&x=1", "flag=&x=1");
}

static void
test_query_is_decoded_then_encoded(void **state)
{
	/* %7e is an unreserved '~' (kept as is), %2f a '/' (upper-case again). */
	assert_query("a=%7e%2f", "a=~%2F");
}

static void
test_query_space_is_percent_20(void **state)
{
	assert_query("q=a+b&r=a%20b", "q=a%20b&r=a%20b");
}

static void
test_query_empty_or_null_is_empty(void **state)
{
	assert_query(NULL, "");
	assert_query("", "");
}

static void
test_query_empty_pairs_are_skipped(void **state)
{
	assert_query("&a=1&&b=2&", "a=1&b=2");
}

static void
test_query_too_many_parameters_is_refused(void **state)
{
	char *q = malloc(300 * 4 + 1), *out = NULL;

	q[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(q, "a=1&");
	assert_int_equal(sign_canonical_query(q, &out), -E2BIG);
	assert_null(out);
	free(q);
}

static void
test_uri_gets_trailing_slash_for_signing(void **state)
{
	assert_uri("/v3/tasks/abc", "/v3/tasks/abc/");
}

static void
test_uri_trailing_slash_is_not_doubled(void **state)
{
	assert_uri("/v3/tasks/", "/v3/tasks/");
}

static void
test_uri_empty_is_root(void **state)
{
	assert_uri("", "/");
	assert_uri("/", "/");
	assert_uri(NULL, "/");
}

static void
test_uri_unreserved_characters_are_kept(void **state)
{
	assert_uri("/AZaz09-_.~", "/AZaz09-_.~/");
}

static void
test_uri_reserved_characters_are_upper_case_escapes(void **state)
{
	assert_uri("/a b/c+d/e@f", "/a%20b/c%2Bd/e%40f/");
}

static void
test_uri_smn_urn_colon_is_percent_3a(void **state)
{
	assert_uri("/v2/p1/notifications/topics/urn:smn:ap-southeast-3:p1:alerts/publish",
	    "/v2/p1/notifications/topics/urn%3Asmn%3Aap-southeast-3%3Ap1%3Aalerts/publish/");
}

static void
test_uri_already_encoded_segment_is_not_double_encoded(void **state)
{
	assert_uri("/topics/urn%3asmn%3Ax", "/topics/urn%3Asmn%3Ax/");
}

static void
test_uri_utf8_is_escaped_bytewise(void **state)
{
	assert_uri("/\xe4\xb8\x80", "/%E4%B8%80/");
}

static void
test_uri_malformed_escape_is_encoded_literally(void **state)
{
	assert_uri("/a%zz", "/a%25zz/");
}

static void
test_empty_body_hash(void **state)
{
	char hash[SIGN_HEX_LEN];

	assert_int_equal(sign_sha256_hex("", 0, hash), 0);
	assert_string_equal(hash, EMPTY_SHA256);
}

static void
test_body_hash_is_of_exact_bytes(void **state)
{
	const struct sign_header h[] = {{"X-Sdk-Date", "20240101T000000Z"}};
	struct sign_request req = {.method = "post",
	    .path = "/v3/tasks/t/action",
	    .body = "{\"operation\":\"start\"}",
	    .body_len = 21,
	    .headers = h,
	    .nheaders = 1};
	char *creq = NULL, hash[SIGN_HEX_LEN];

	assert_int_equal(sign_sha256_hex(req.body, req.body_len, hash), 0);
	assert_int_equal(sign_canonical_request(&req, &creq), 0);
	assert_non_null(strstr(creq, hash));
	assert_int_equal(strncmp(creq, "POST\n", 5), 0);
	free(creq);
}

static void
test_project_id_and_security_token_are_signed_when_present(void **state)
{
	const struct sign_header h[] = {
	    {"Host", "sms.ap-southeast-3.myhuaweicloud.com"},
	    {"Content-Type", "application/json"},
	    {"X-Sdk-Date", "20240101T000000Z"},
	    {"X-Project-Id", "0123456789abcdef"},
	    {"X-Security-Token", "tok"},
	};
	struct sign_request req = {
	    .method = "GET", .path = "/v3/tasks/x", .headers = h, .nheaders = 5};
	char *auth = NULL, *creq = NULL;

	assert_int_equal(sign_authorization(&req, "AK", "SK", &auth, NULL), 0);
	assert_non_null(strstr(auth,
	    "SignedHeaders=content-type;host;x-project-id;x-sdk-date;"
	    "x-security-token, "));
	assert_int_equal(sign_canonical_request(&req, &creq), 0);
	assert_non_null(strstr(creq, "\nx-project-id:0123456789abcdef\n"));
	assert_non_null(strstr(creq, "\nx-security-token:tok\n\n"));
	free(auth);
	free(creq);
}

static void
test_signature_changes_with_the_secret(void **state)
{
	char *a = NULL, *b = NULL;

	assert_int_equal(sign_authorization(&vec_request, VEC_AK, VEC_SK, &a, NULL), 0);
	assert_int_equal(sign_authorization(&vec_request, VEC_AK, "other", &b, NULL), 0);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
test_missing_sdk_date_is_refused(void **state)
{
	const struct sign_header h[] = {{"Host", "x"}};
	struct sign_request req = {.method = "GET", .path = "/", .headers = h, .nheaders = 1};
	char *auth = NULL;

	assert_int_equal(sign_authorization(&req, "AK", "SK", &auth, NULL), -EINVAL);
	assert_null(auth);
}

static void
test_empty_credentials_are_refused(void **state)
{
	char *auth = NULL;

	assert_int_equal(sign_authorization(&vec_request, "", VEC_SK, &auth, NULL), -EINVAL);
	assert_int_equal(sign_authorization(&vec_request, VEC_AK, "", &auth, NULL), -EINVAL);
	assert_null(auth);
}

static void
test_bad_header_names_are_refused(void **state)
{
	const struct sign_header colon[] = {{"X-Sdk-Date:", "x"}};
	const struct sign_header dup[] = {{"X-Sdk-Date", "a"}, {"x-sdk-date", "b"}};
	char *h = NULL, *s = NULL;

	assert_int_equal(sign_canonical_headers(colon, 1, &h, &s), -EINVAL);
	assert_int_equal(sign_canonical_headers(dup, 2, &h, &s), -EINVAL);
	assert_int_equal(sign_canonical_headers(NULL, 0, &h, &s), -EINVAL);
	assert_null(h);
	assert_null(s);
}

static void
test_sdk_date_is_utc(void **state)
{
	char buf[SIGN_DATE_LEN];

	/* 1573788615 = 2019-11-15T03:30:15Z, whatever the local time zone. */
	setenv("TZ", "Asia/Singapore", 1);
	assert_int_equal(sign_format_date(1573788615, buf), 0);
	assert_string_equal(buf, "20191115T033015Z");
	unsetenv("TZ");
}

static void
test_uri_encode_keeps_unreserved_only(void **state)
{
	char *s = sign_uri_encode("a-b_c.d~e/f:g h", 15);

	assert_string_equal(s, "a-b_c.d~e%2Ff%3Ag%20h");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_official_vector_canonical_request),
	    cmocka_unit_test(test_official_vector_canonical_request_hash),
	    cmocka_unit_test(test_official_vector_string_to_sign),
	    cmocka_unit_test(test_official_vector_authorization),
	    cmocka_unit_test(test_header_order_does_not_change_the_signature),
	    cmocka_unit_test(test_sdk_canonical_query_example),
	    cmocka_unit_test(test_query_keys_are_sorted),
	    cmocka_unit_test(test_query_repeated_key_values_are_sorted),
	    cmocka_unit_test(test_query_empty_value_keeps_equals),
	    cmocka_unit_test(test_query_key_without_equals_gets_one),
	    cmocka_unit_test(test_query_is_decoded_then_encoded),
	    cmocka_unit_test(test_query_space_is_percent_20),
	    cmocka_unit_test(test_query_empty_or_null_is_empty),
	    cmocka_unit_test(test_query_empty_pairs_are_skipped),
	    cmocka_unit_test(test_query_too_many_parameters_is_refused),
	    cmocka_unit_test(test_uri_gets_trailing_slash_for_signing),
	    cmocka_unit_test(test_uri_trailing_slash_is_not_doubled),
	    cmocka_unit_test(test_uri_empty_is_root),
	    cmocka_unit_test(test_uri_unreserved_characters_are_kept),
	    cmocka_unit_test(test_uri_reserved_characters_are_upper_case_escapes),
	    cmocka_unit_test(test_uri_smn_urn_colon_is_percent_3a),
	    cmocka_unit_test(test_uri_already_encoded_segment_is_not_double_encoded),
	    cmocka_unit_test(test_uri_utf8_is_escaped_bytewise),
	    cmocka_unit_test(test_uri_malformed_escape_is_encoded_literally),
	    cmocka_unit_test(test_empty_body_hash),
	    cmocka_unit_test(test_body_hash_is_of_exact_bytes),
	    cmocka_unit_test(test_project_id_and_security_token_are_signed_when_present),
	    cmocka_unit_test(test_signature_changes_with_the_secret),
	    cmocka_unit_test(test_missing_sdk_date_is_refused),
	    cmocka_unit_test(test_empty_credentials_are_refused),
	    cmocka_unit_test(test_bad_header_names_are_refused),
	    cmocka_unit_test(test_sdk_date_is_utc),
	    cmocka_unit_test(test_uri_encode_keeps_unreserved_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
