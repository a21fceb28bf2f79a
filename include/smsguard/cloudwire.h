/*
 * An SMS or SMN call on the wire (reference §7): the URL and the header lines
 * of its signed HTTP request, Authorization included, as the official SDKs
 * send them. Pure: the wall-clock time comes in; the cloud client sends the
 * result.
 */
#ifndef SMSGUARD_CLOUDWIRE_H
#define SMSGUARD_CLOUDWIRE_H

#include <stdint.h>

#include "smsguard/credentials.h"

#define CLOUDWIRE_MAX_HEADERS 6

struct cloudwire_call {
	const char *method;     /* "GET", "POST" */
	const char *base;       /* "https://host[:port]", without a trailing '/' */
	const char *project_id; /* X-Project-Id, sent and signed; NULL or "" = none */
	const char *path;       /* "/v3/tasks/…", as sent */
	const char *query;      /* without '?'; NULL = none */
	const char *body;       /* NULL = none */
};

struct cloudwire {
	char *url;
	/*
	 * "Name: value" lines: Host, Content-Type, X-Sdk-Date, X-Project-Id
	 * and X-Security-Token when set, Authorization.
	 */
	char *headers[CLOUDWIRE_MAX_HEADERS];
	int nheaders;
};

/*
 * The signed request for call with cr at now_ms (Unix ms). Returns 0, or
 * -EINVAL when base is not a URL, or the signer's negative errno; out is
 * then empty. cloudwire_free() it either way.
 */
int cloudwire_sign(const struct cloudwire_call *call, const struct credentials *cr, int64_t now_ms,
    struct cloudwire *out);
/* Frees w's strings, wiping the secrets first (Authorization, X-Security-Token). */
void cloudwire_free(struct cloudwire *w);

/*
 * The Host header for a URL, as the SDKs send it and sign it: "https://h:443/…"
 * → "h"; "http://[::1]:8080" → "[::1]:8080". A new string, or NULL when url
 * has no scheme or host.
 */
char *cloudwire_authority(const char *url);
/* url without its trailing '/'s (a new string). */
char *cloudwire_base(const char *url);

#endif
