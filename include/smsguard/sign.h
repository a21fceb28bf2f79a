/*
 * Huawei Cloud SDK-HMAC-SHA256 request signing (reference §7), as the
 * official SDKs do it:
 *
 *   CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
 *   StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
 *   Authorization    = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=…, Signature=hex(hmac(SK, StringToSign))"
 *
 * Pure: the caller passes the date (as the X-Sdk-Date header) and every header
 * to sign. Returned strings are malloc'd; the caller frees them.
 */
#ifndef SMSGUARD_SIGN_H
#define SMSGUARD_SIGN_H

#include <stddef.h>
#include <time.h>

#define SIGN_ALGORITHM "SDK-HMAC-SHA256"
#define SIGN_DATE_LEN 17 /* "20191115T033655Z" and its NUL */
#define SIGN_HEX_LEN 65  /* a SHA-256 in lower-case hex and its NUL */
#define SIGN_MAX_HEADERS 16

struct sign_header {
	const char *name;
	const char *value;
};

struct sign_request {
	const char *method; /* "GET", "POST"; upper-cased for signing */
	const char *path;   /* as sent, without the query: "/v3/tasks/abc" */
	const char *query;  /* raw, without '?' ("a=1&b=%2F"); NULL or "" when none */
	const void *body;
	size_t body_len;
	/* Exactly the headers to sign (Host, X-Sdk-Date, Content-Type, X-Project-Id, …). */
	const struct sign_header *headers;
	int nheaders;
};

/* "YYYYMMDDTHHMMSSZ" in UTC. Returns 0, or -EOVERFLOW for an unrepresentable time. */
int sign_format_date(time_t t, char out[SIGN_DATE_LEN]);

/* Lower-case hex SHA-256 of len bytes. Returns 0 or -EIO. */
int sign_sha256_hex(const void *data, size_t len, char out[SIGN_HEX_LEN]);

/*
 * Percent-encodes len bytes: A-Z a-z 0-9 - _ . ~ kept, everything else %XX
 * (upper-case hex). Returns a new string.
 */
char *sign_uri_encode(const char *s, size_t len);

/*
 * Decodes %XX escapes (a malformed escape is kept as is) and, when plus_is_space,
 * '+' as a space (query strings). Returns a new string; *outlen (if not NULL) is
 * its length, which may be shorter than strlen when it holds a NUL.
 */
char *sign_uri_decode(const char *s, size_t len, int plus_is_space, size_t *outlen);

/*
 * Each '/'-separated segment of path decoded then encoded, joined by '/',
 * and a trailing '/' added when missing (for signing only). "" becomes "/".
 */
int sign_canonical_uri(const char *path, char **out);

/*
 * The raw query decoded into key/value pairs, sorted by key then value, each
 * re-encoded as key=value (an empty value keeps '='), joined by '&'.
 * NULL or "" gives "". Returns 0, -E2BIG past 256 parameters.
 */
int sign_canonical_query(const char *query, char **out);

/*
 * Canonical headers ("name:value\n" each, lower-case names, trimmed values,
 * sorted by name) and SignedHeaders ("a;b;c"). Returns 0 or -EINVAL (no
 * headers, too many, a NULL or empty name, a name with ':' or a control character).
 */
int sign_canonical_headers(
    const struct sign_header *h, int n, char **headers, char **signed_headers);

/* The whole canonical request. Returns 0 or a negative errno. */
int sign_canonical_request(const struct sign_request *req, char **out);

/*
 * The Authorization header's value for req signed with ak/sk. The request's
 * headers must include X-Sdk-Date (-EINVAL otherwise). Returns 0 or a
 * negative errno; *string_to_sign (when not NULL) receives the string to sign.
 */
int sign_authorization(const struct sign_request *req, const char *ak, const char *sk, char **out,
    char **string_to_sign);

#endif
