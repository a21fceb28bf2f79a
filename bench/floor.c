/*
 * The floor of smsguard's stack: libcurl with OpenSSL, one HTTPS GET every
 * SECONDS, TLS verified against CAFILE, the connection kept between requests.
 * Whatever smsguard uses above this is its own cost (bench/README.md).
 *
 *	floor URL CAFILE SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <curl/curl.h>

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

int
main(int argc, char *argv[])
{
	CURL *c;
	long code = 0;
	int secs;

	if (argc != 4 || (secs = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: floor URL CAFILE SECONDS\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (c = curl_easy_init()) == NULL)
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (;;) {
		CURLcode rc = curl_easy_perform(c);

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		printf("%s %ld\n", rc == CURLE_OK ? "ok" : curl_easy_strerror(rc), code);
		fflush(stdout);
		sleep((unsigned)secs);
	}
}
