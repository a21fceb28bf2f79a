/*
 * The signed request of an SMS/SMN call: the headers we send are exactly the
 * headers we sign, so both lists are built here, side by side.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smsguard/cloudwire.h"
#include "smsguard/sign.h"
#include "smsguard/util.h"

char *
cloudwire_authority(const char *url)
{
	const char *p = strstr(url, "://"), *end;
	bool https;
	size_t len;

	if (p == NULL)
		return NULL;
	https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
	p += 3;
	end = p + strcspn(p, "/?#");
	len = (size_t)(end - p);
	if (len == 0)
		return NULL;
	/* The SDKs send the host alone on the default port, and sign what they send. */
	if (https && len > 4 && strncmp(end - 4, ":443", 4) == 0)
		len -= 4;
	else if (!https && len > 3 && strncmp(end - 3, ":80", 3) == 0)
		len -= 3;
	return xasprintf("%.*s", (int)len, p);
}

char *
cloudwire_base(const char *url)
{
	size_t len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	return xasprintf("%.*s", (int)len, url);
}

/* The headers to sign, in the order they are sent; Authorization comes last. */
static int
headers_to_sign(const struct cloudwire_call *call, const struct credentials *cr, const char *host,
    const char *date, struct sign_header *sh)
{
	int n = 0;

	sh[n++] = (struct sign_header){"Host", host};
	sh[n++] = (struct sign_header){"Content-Type", "application/json"};
	sh[n++] = (struct sign_header){"X-Sdk-Date", date};
	if (call->project_id != NULL && call->project_id[0] != '\0')
		sh[n++] = (struct sign_header){"X-Project-Id", call->project_id};
	if (cr->security_token != NULL && cr->security_token[0] != '\0')
		sh[n++] = (struct sign_header){"X-Security-Token", cr->security_token};
	return n;
}

int
cloudwire_sign(const struct cloudwire_call *call, const struct credentials *cr, int64_t now_ms,
    struct cloudwire *out)
{
	struct sign_header sh[CLOUDWIRE_MAX_HEADERS];
	struct sign_request sreq;
	char date[SIGN_DATE_LEN];
	char *host = cloudwire_authority(call->base), *auth = NULL;
	const char *q = call->query != NULL ? call->query : "";
	int n = 0, rc;

	memset(out, 0, sizeof(*out));
	if (host == NULL) {
		rc = -EINVAL;
		goto out;
	}
	if ((rc = sign_format_date((time_t)(now_ms / 1000), date)) < 0)
		goto out;
	n = headers_to_sign(call, cr, host, date, sh);
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = call->method;
	sreq.path = call->path;
	sreq.query = call->query;
	sreq.body = call->body;
	sreq.body_len = call->body != NULL ? strlen(call->body) : 0;
	sreq.headers = sh;
	sreq.nheaders = n;
	if ((rc = sign_authorization(&sreq, cr->ak, cr->sk, &auth, NULL)) < 0)
		goto out;
	out->url = xasprintf("%s%s%s%s", call->base, call->path, q[0] ? "?" : "", q);
	for (int i = 0; i < n; i++)
		out->headers[out->nheaders++] = xasprintf("%s: %s", sh[i].name, sh[i].value);
	out->headers[out->nheaders++] = xasprintf("Authorization: %s", auth);
out:
	/* The signature is a secret: wipe our copy. */
	if (auth != NULL)
		util_wipe(auth, strlen(auth));
	free(auth);
	free(host);
	return rc;
}

void
cloudwire_free(struct cloudwire *w)
{
	/* Every line is wiped: Authorization and X-Security-Token hold secrets. */
	for (int i = 0; i < w->nheaders; i++) {
		util_wipe(w->headers[i], strlen(w->headers[i]));
		free(w->headers[i]);
	}
	free(w->url);
	memset(w, 0, sizeof(*w));
}
