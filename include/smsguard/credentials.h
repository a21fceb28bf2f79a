/*
 * The AK/SK (DESIGN.md §4): read from the credentials file the configuration
 * names, else from the environment variables the official SDKs use. Secrets
 * live in struct credentials and only there; they are wiped when freed.
 */
#ifndef SMSGUARD_CREDENTIALS_H
#define SMSGUARD_CREDENTIALS_H

#include <stddef.h>

#include "smsguard/config.h"

#define CREDENTIALS_DEFAULT_PATH "/etc/smsguard/credentials"

struct credentials {
	char *ak;
	char *sk;
	char *security_token; /* NULL unless temporary credentials */
};

/*
 * From the config's credentials file (refused when group- or world-readable,
 * or not a regular file), else from HUAWEICLOUD_SDK_AK / _SK / _SECURITY_TOKEN.
 * A problem with a line of the credentials file is reported at that line
 * ("CREDS:3: sk: empty"); any other is reported at the configuration line that
 * chose the file ("smsguard.conf:7: credentials: CREDS: permissions 0644 …").
 * Without a `credentials =` line the default path applies, and the message
 * names the [cloud] line and says "(the default)"; with no [cloud] either
 * there is no line to name and it starts "smsguard.conf: credentials: ".
 * The file holds lines "ak=…", "sk=…", optionally "security_token=…", with
 * '#' comments and blank lines; it must be a regular file owned by the
 * effective uid with no group/other permission bits (chmod 600). Only when it
 * does not exist and cfg->credentials_explicit is false are the environment
 * variables used. Error messages never contain a secret.
 */
int credentials_load(const struct config *cfg, struct credentials **out, char **cause);
/*
 * The bytes of a credentials file (len of them, not NUL-terminated), as
 * credentials_load reads them: a line's problem is reported as "FILE:LINE: …",
 * a missing key or a file too large or holding a NUL as "WHERE: …". 0 with
 * *out a new struct, or -EINVAL with *cause; no message contains a secret.
 */
int credentials_parse(const char *where, const char *file, const char *buf, size_t len,
    struct credentials **out, char **cause);
/* Wipes every secret, then frees; NULL is a no-op. */
void credentials_free(struct credentials *cr);

#endif
