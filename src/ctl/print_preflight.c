/*
 * smsguardctl preflight's output (DESIGN.md §5.11): one line per check -
 * its name, ok / warn / fail and what was measured, and for a check that is
 * not ok the SMS error code it prevents and the remedy - then a line with
 * the verdict; with --json the report object exactly. Exit 0 when every
 * check is ok, 1 with warnings, 2 with failures. Text from the daemon goes
 * out with control characters escaped, so a hostile string cannot drive
 * the terminal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/ctl-protocol.h"
#include "smsguardctl.h"

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* s with C0 and C1 control characters escaped; "-" for NULL. */
static void
put_text(const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		fputs("-", stdout);
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			printf("\\u%04x", *++p);
		else
			putchar(*p);
	}
}

static int
verdict_exit(const char *verdict)
{
	if (verdict != NULL && strcmp(verdict, "ok") == 0)
		return CTL_EXIT_OK;
	if (verdict != NULL && strcmp(verdict, "warn") == 0)
		return CTL_EXIT_DEGRADED;
	return CTL_EXIT_FAILED;
}

static void
print_check(const cJSON *c, int width)
{
	const char *name = str(c, "name"), *verdict = str(c, "verdict");
	const char *prevents = str(c, "prevents"), *remedy = str(c, "remedy");
	int len = name != NULL ? (int)strlen(name) : 1;

	put_text(name);
	printf("%*s  %-4s  ", width > len ? width - len : 0, "", verdict != NULL ? verdict : "?");
	put_text(str(c, "measured"));
	if (verdict == NULL || strcmp(verdict, "ok") != 0) {
		if (prevents != NULL) {
			fputs("; prevents ", stdout);
			put_text(prevents);
		}
		if (remedy != NULL) {
			fputs("; remedy: ", stdout);
			put_text(remedy);
		}
	}
	putchar('\n');
}

int
print_preflight(bool json, cJSON *reply)
{
	const cJSON *checks = cJSON_GetObjectItemCaseSensitive(reply, "checks"), *c;
	const char *verdict = str(reply, "verdict"), *v;
	int code = verdict_exit(verdict), width = 0, counts[3] = {0, 0, 0};
	char *s;

	if (verdict == NULL || !cJSON_IsArray(checks)) {
		ctlwarn("malformed reply from smsguard: no preflight report");
		return CTL_EXIT_FAILED;
	}
	if (json) {
		/* The report exactly: the reply without the envelope. */
		cJSON_DeleteItemFromObjectCaseSensitive(reply, CTL_KEY_OK);
		if ((s = cJSON_Print(reply)) == NULL) {
			ctlwarn("out of memory");
			return CTL_EXIT_FAILED;
		}
		puts(s);
		free(s);
		return code;
	}
	cJSON_ArrayForEach(c, checks)
	{
		if (str(c, "name") != NULL && (int)strlen(str(c, "name")) > width)
			width = (int)strlen(str(c, "name"));
		counts[verdict_exit(str(c, "verdict"))]++;
	}
	cJSON_ArrayForEach(c, checks)
	{
		print_check(c, width);
	}
	v = code == CTL_EXIT_OK ? "ok" : code == CTL_EXIT_DEGRADED ? "warn" : "fail";
	printf("preflight: %s (%d ok, %d warn, %d fail)\n", v, counts[0], counts[1], counts[2]);
	return code;
}
