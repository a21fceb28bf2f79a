/* SDK-HMAC-SHA256 request signing (reference §7). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "smsguard/sign.h"
#include "smsguard/util.h"

#define SIGN_MAX_QUERY_PARAMS 256

/* A growing string: the few canonical strings are built piece by piece. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *np;

		while (b->len + n + 1 > cap)
			cap *= 2;
		np = xmalloc(cap);
		if (b->p != NULL)
			memcpy(np, b->p, b->len);
		free(b->p);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

static char *
sbuf_take(struct sbuf *b)
{
	if (b->p == NULL)
		return xstrdup("");
	return b->p;
}

int
sign_format_date(time_t t, char out[SIGN_DATE_LEN])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		return -EOVERFLOW;
	if (strftime(out, SIGN_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm) != SIGN_DATE_LEN - 1)
		return -EOVERFLOW;
	return 0;
}

static void
hex_lower(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int
sign_sha256_hex(const void *data, size_t len, char out[SIGN_HEX_LEN])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	unsigned char sum[32];

	if (md == NULL || mbedtls_md(md, data, len, sum) != 0)
		return -EIO;
	hex_lower(sum, sizeof(sum), out);
	return 0;
}

static int
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *
sign_uri_encode(const char *s, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	char *out = xmalloc(len * 3 + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80 && is_unreserved(c)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = digits[c >> 4];
			*o++ = digits[c & 0xf];
		}
	}
	*o = '\0';
	return out;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
sign_uri_decode(const char *s, size_t len, int plus_is_space, size_t *outlen)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus_is_space && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(o - out);
	return out;
}

int
sign_canonical_uri(const char *path, char **out)
{
	struct sbuf b = {0};
	const char *p = path != NULL ? path : "";

	/* Split on '/', keeping empty segments so "/a//b" stays as it was sent. */
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t seglen = slash != NULL ? (size_t)(slash - p) : strlen(p);

		if (seglen > 0) {
			size_t declen;
			char *dec = sign_uri_decode(p, seglen, 0, &declen);
			char *enc = sign_uri_encode(dec, declen);

			sbuf_adds(&b, enc);
			free(enc);
			free(dec);
		}
		if (slash == NULL)
			break;
		sbuf_add(&b, "/", 1);
		p = slash + 1;
	}
	if (b.len == 0 || b.p[b.len - 1] != '/')
		sbuf_add(&b, "/", 1);
	*out = sbuf_take(&b);
	return 0;
}

struct qparam {
	char *key, *value;
	size_t keylen, valuelen;
};

static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = bytes_cmp(x->key, x->keylen, y->key, y->keylen);

	if (c != 0)
		return c;
	return bytes_cmp(x->value, x->valuelen, y->value, y->valuelen);
}

int
sign_canonical_query(const char *query, char **out)
{
	struct qparam *params = NULL;
	struct sbuf b = {0};
	int n = 0, rc = 0;
	const char *p = query;

	*out = NULL;
	if (p == NULL || *p == '\0') {
		*out = xstrdup("");
		return 0;
	}
	params = xcalloc(SIGN_MAX_QUERY_PARAMS, sizeof(*params));
	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq != NULL ? (size_t)(eq - p) : len;

		if (len > 0) {
			if (n == SIGN_MAX_QUERY_PARAMS) {
				rc = -E2BIG;
				goto fail;
			}
			params[n].key = sign_uri_decode(p, klen, 1, &params[n].keylen);
			if (eq != NULL)
				params[n].value =
				    sign_uri_decode(eq + 1, len - klen - 1, 1, &params[n].valuelen);
			else
				params[n].value = sign_uri_decode("", 0, 1, &params[n].valuelen);
			n++;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	qsort(params, (size_t)n, sizeof(*params), qparam_cmp);
	for (int i = 0; i < n; i++) {
		char *k = sign_uri_encode(params[i].key, params[i].keylen);
		char *v = sign_uri_encode(params[i].value, params[i].valuelen);

		if (i > 0)
			sbuf_add(&b, "&", 1);
		sbuf_adds(&b, k);
		sbuf_add(&b, "=", 1);
		sbuf_adds(&b, v);
		free(k);
		free(v);
	}
	*out = sbuf_take(&b);
	b.p = NULL;
fail:
	for (int i = 0; i < n; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	free(params);
	free(b.p);
	return rc;
}

struct hdr {
	char *name;
	const char *value;
	size_t valuelen;
};

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int
sign_canonical_headers(const struct sign_header *h, int n, char **headers, char **signed_headers)
{
	struct hdr hs[SIGN_MAX_HEADERS];
	struct sbuf hb = {0}, sb = {0};
	int rc = 0, made = 0;

	*headers = *signed_headers = NULL;
	if (h == NULL || n <= 0 || n > SIGN_MAX_HEADERS)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		const char *v = h[i].value != NULL ? h[i].value : "";
		const char *end;

		if (h[i].name == NULL || h[i].name[0] == '\0') {
			rc = -EINVAL;
			goto fail;
		}
		hs[i].name = xstrdup(h[i].name);
		made++;
		for (char *c = hs[i].name; *c != '\0'; c++) {
			if (*c == ':' || iscntrl((unsigned char)*c) || *c == ' ') {
				rc = -EINVAL;
				goto fail;
			}
			*c = (char)tolower((unsigned char)*c);
		}
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		hs[i].value = v;
		hs[i].valuelen = (size_t)(end - v);
	}
	qsort(hs, (size_t)n, sizeof(hs[0]), hdr_cmp);
	for (int i = 0; i < n; i++) {
		if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0) {
			rc = -EINVAL; /* one value per signed header */
			goto fail;
		}
		sbuf_adds(&hb, hs[i].name);
		sbuf_add(&hb, ":", 1);
		sbuf_add(&hb, hs[i].value, hs[i].valuelen);
		sbuf_add(&hb, "\n", 1);
		if (i > 0)
			sbuf_add(&sb, ";", 1);
		sbuf_adds(&sb, hs[i].name);
	}
	*headers = sbuf_take(&hb);
	*signed_headers = sbuf_take(&sb);
	hb.p = sb.p = NULL;
fail:
	for (int i = 0; i < made; i++)
		free(hs[i].name);
	free(hb.p);
	free(sb.p);
	return rc;
}

int
sign_canonical_request(const struct sign_request *req, char **out)
{
	char *uri = NULL, *query = NULL, *headers = NULL, *signed_headers = NULL;
	char body_hash[SIGN_HEX_LEN];
	struct sbuf b = {0};
	int rc;

	*out = NULL;
	if (req->method == NULL || req->method[0] == '\0')
		return -EINVAL;
	if ((rc = sign_canonical_uri(req->path, &uri)) < 0 ||
	    (rc = sign_canonical_query(req->query, &query)) < 0 ||
	    (rc = sign_canonical_headers(req->headers, req->nheaders, &headers, &signed_headers)) <
	        0 ||
	    (rc = sign_sha256_hex(req->body != NULL ? req->body : "",
	         req->body != NULL ? req->body_len : 0, body_hash)) < 0)
		goto fail;
	for (const char *m = req->method; *m != '\0'; m++) {
		char c = (char)toupper((unsigned char)*m);

		sbuf_add(&b, &c, 1);
	}
	sbuf_add(&b, "\n", 1);
	sbuf_adds(&b, uri);
	sbuf_add(&b, "\n", 1);
	sbuf_adds(&b, query);
	sbuf_add(&b, "\n", 1);
	sbuf_adds(&b, headers);
	sbuf_add(&b, "\n", 1);
	sbuf_adds(&b, signed_headers);
	sbuf_add(&b, "\n", 1);
	sbuf_adds(&b, body_hash);
	*out = sbuf_take(&b);
fail:
	free(uri);
	free(query);
	free(headers);
	free(signed_headers);
	return rc;
}

static const char *
find_header(const struct sign_request *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (req->headers[i].name != NULL && strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

int
sign_authorization(const struct sign_request *req, const char *ak, const char *sk, char **out,
    char **string_to_sign)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	char *creq = NULL, *sts = NULL, *headers = NULL, *signed_headers = NULL;
	char creq_hash[SIGN_HEX_LEN], sig[SIGN_HEX_LEN];
	unsigned char mac[32];
	const char *date = find_header(req, "X-Sdk-Date");
	int rc;

	*out = NULL;
	if (string_to_sign != NULL)
		*string_to_sign = NULL;
	if (date == NULL || ak == NULL || sk == NULL || *ak == '\0' || *sk == '\0' || md == NULL)
		return -EINVAL;
	if ((rc = sign_canonical_request(req, &creq)) < 0 ||
	    (rc = sign_canonical_headers(req->headers, req->nheaders, &headers, &signed_headers)) <
	        0)
		goto fail;
	if ((rc = sign_sha256_hex(creq, strlen(creq), creq_hash)) < 0)
		goto fail;
	sts = xasprintf("%s\n%s\n%s", SIGN_ALGORITHM, date, creq_hash);
	if (mbedtls_md_hmac(md, (const unsigned char *)sk, strlen(sk), (const unsigned char *)sts,
	        strlen(sts), mac) != 0) {
		rc = -EIO;
		goto fail;
	}
	hex_lower(mac, sizeof(mac), sig);
	mbedtls_platform_zeroize(mac, sizeof(mac));
	*out = xasprintf("%s Access=%s, SignedHeaders=%s, Signature=%s", SIGN_ALGORITHM, ak,
	    signed_headers, sig);
	if (string_to_sign != NULL) {
		*string_to_sign = sts;
		sts = NULL;
	}
fail:
	free(creq);
	free(sts);
	free(headers);
	free(signed_headers);
	return rc;
}
