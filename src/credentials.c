/*
 * The credentials file and the SDK's environment variables. The file is
 * refused unless only its owner (the daemon's uid) may read it, as ssh refuses
 * a loose key. Nothing read here reaches a message: a line that fails to parse
 * may be a pasted secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define CREDS_FILE_MAX 16384
#define AK_MAX 128
#define SK_MAX 128
#define TOKEN_MAX 8192
#define KEY_QUOTE_MAX 72 /* how much of a bad key name a message shows */

static void
secret_free(char *s)
{
	if (s != NULL) {
		util_wipe(s, strlen(s));
		free(s);
	}
}

void
credentials_free(struct credentials *cr)
{
	if (cr == NULL)
		return;
	secret_free(cr->ak);
	secret_free(cr->sk);
	secret_free(cr->security_token);
	util_wipe(cr, sizeof(*cr));
	free(cr);
}

/* Secrets go into HTTP headers and the signature: printable ASCII, no spaces. */
static bool
secret_chars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Checks one secret; the reason never quotes it. */
static const char *
secret_reason(const char *v, size_t max, char buf[64])
{
	if (v[0] == '\0')
		return "empty";
	if (strlen(v) > max) {
		snprintf(buf, 64, "too long (at most %zu characters)", max);
		return buf;
	}
	if (!secret_chars_ok(v))
		return "contains white space or non-printable characters";
	return NULL;
}

/*
 * The start of every message about the credentials but a bad line in their
 * file: the configuration line that chose the file, then the file. See
 * credentials_load in credentials.h for why the [cloud] line stands in.
 */
static char *
creds_where(const struct config *cfg, const char *file)
{
	const char *dflt = cfg->credentials_line == 0 ? " (the default)" : "";
	int line = cfg->credentials_line != 0 ? cfg->credentials_line : cfg->cloud_line;

	if (cfg->path == NULL)
		return xasprintf("credentials: %s%s", file, dflt);
	if (line == 0)
		return xasprintf("%s: credentials: %s%s", cfg->path, file, dflt);
	return xasprintf("%s:%d: credentials: %s%s", cfg->path, line, file, dflt);
}

/* Lines of the file are reported at FILE:LINE; what is missing, at `where`. */
static int
creds_parse(const char *where, const char *file, char *text, struct credentials *cr, char **cause)
{
	static const struct {
		const char *name;
		size_t max;
		size_t off;
	} fields[] = {
	    {"ak", AK_MAX, offsetof(struct credentials, ak)},
	    {"sk", SK_MAX, offsetof(struct credentials, sk)},
	    {"security_token", TOKEN_MAX, offsetof(struct credentials, security_token)},
	};
	char *line, *save = NULL;
	int lineno = 0;

	/* strtok_r would skip empty lines and lose the count. */
	for (line = text; line != NULL; line = save) {
		char *eq, *key, *val, **dst = NULL, q[KEY_QUOTE_MAX], rb[64];
		const char *why;
		size_t i;

		save = strchr(line, '\n');
		if (save != NULL)
			*save++ = '\0';
		lineno++;
		line = util_trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			/* Never echo the line: it may be a pasted secret. */
			*cause = xasprintf(
			    "%s:%d: expected key=value (ak, sk or security_token)", file, lineno);
			return -EINVAL;
		}
		*eq = '\0';
		key = util_trim(line);
		val = util_trim(eq + 1);
		for (i = 0; i < nitems(fields); i++)
			if (strcmp(key, fields[i].name) == 0)
				break;
		if (i == nitems(fields)) {
			*cause = xasprintf("%s:%d: %s: unknown key (ak, sk or security_token)",
			    file, lineno, log_escape(key, -1, q, sizeof(q)));
			return -EINVAL;
		}
		dst = (char **)(void *)((char *)cr + fields[i].off);
		if (*dst != NULL) {
			*cause = xasprintf("%s:%d: %s: repeated key", file, lineno, key);
			return -EINVAL;
		}
		if ((why = secret_reason(val, fields[i].max, rb)) != NULL) {
			*cause = xasprintf("%s:%d: %s: %s", file, lineno, key, why);
			return -EINVAL;
		}
		*dst = xstrdup(val);
	}
	if (cr->ak == NULL || cr->sk == NULL) {
		*cause = xasprintf("%s: missing %s (no %s= line)", where,
		    cr->ak == NULL ? "ak" : "sk", cr->ak == NULL ? "ak" : "sk");
		return -EINVAL;
	}
	return 0;
}

/* Reads at most CREDS_FILE_MAX + 1 bytes into *out, which the caller wipes and frees. */
static int
creds_read(const char *where, int fd, char **out, size_t *outlen, char **cause)
{
	char *buf = xmalloc(CREDS_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int rc;

	while (len < CREDS_FILE_MAX + 1) {
		n = read(fd, buf + len, CREDS_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			*cause = xasprintf("%s: %s", where, strerror(errno));
			util_wipe(buf, CREDS_FILE_MAX + 1);
			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int
credentials_parse(const char *where, const char *file, const char *buf, size_t len,
    struct credentials **out, char **cause)
{
	struct credentials *cr;
	char *text;
	int rc;

	*out = NULL;
	if (len > CREDS_FILE_MAX) {
		*cause = xasprintf("%s: too large (at most %d bytes)", where, CREDS_FILE_MAX);
		return -EINVAL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		*cause = xasprintf("%s: contains a NUL byte", where);
		return -EINVAL;
	}
	text = xmalloc(len + 1);
	memcpy(text, buf, len);
	text[len] = '\0';
	cr = xcalloc(1, sizeof(*cr));
	rc = creds_parse(where, file, text, cr, cause);
	util_wipe(text, len + 1);
	free(text);
	if (rc != 0) {
		credentials_free(cr);
		return rc;
	}
	*out = cr;
	return 0;
}

static int
creds_from_file(const char *where, const char *file, int fd, struct credentials **out, char **cause)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (fstat(fd, &st) != 0) {
		rc = -errno;
		*cause = xasprintf("%s: %s", where, strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", where);
		return -EINVAL;
	}
	if (st.st_uid != geteuid()) {
		*cause = xasprintf("%s: owned by uid %u, not by uid %u that smsguard runs as",
		    where, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		*cause =
		    xasprintf("%s: permissions %04o are too open (group or others may use it); "
		              "run chmod 600 %s",
		        where, (unsigned)(st.st_mode & 07777), file);
		return -EPERM;
	}
	if (st.st_size > CREDS_FILE_MAX) {
		*cause = xasprintf("%s: too large (at most %d bytes)", where, CREDS_FILE_MAX);
		return -EINVAL;
	}
	if ((rc = creds_read(where, fd, &buf, &len, cause)) != 0)
		return rc;
	rc = credentials_parse(where, file, buf, len, out, cause);
	util_wipe(buf, CREDS_FILE_MAX + 1);
	free(buf);
	return rc;
}

/* Only when the file does not exist: `where` names it. */
static int
creds_from_env(const char *where, struct credentials *cr, char **cause)
{
	static const struct {
		const char *var;
		size_t max;
		size_t off;
	} vars[] = {
	    {"HUAWEICLOUD_SDK_AK", AK_MAX, offsetof(struct credentials, ak)},
	    {"HUAWEICLOUD_SDK_SK", SK_MAX, offsetof(struct credentials, sk)},
	    {"HUAWEICLOUD_SDK_SECURITY_TOKEN", TOKEN_MAX,
	        offsetof(struct credentials, security_token)},
	};
	const char *ak = getenv(vars[0].var), *sk = getenv(vars[1].var);

	if ((ak == NULL || *ak == '\0') && (sk == NULL || *sk == '\0')) {
		*cause = xasprintf("%s does not exist and HUAWEICLOUD_SDK_AK / "
		                   "HUAWEICLOUD_SDK_SK are not set",
		    where);
		return -ENOENT;
	}
	for (size_t i = 0; i < nitems(vars); i++) {
		const char *v = getenv(vars[i].var), *why;
		char rb[64];

		if (v == NULL || *v == '\0') {
			if (i == 2)
				continue;
			*cause = xasprintf("%s does not exist, and %s is set but %s is not", where,
			    vars[1 - i].var, vars[i].var);
			return -EINVAL;
		}
		if ((why = secret_reason(v, vars[i].max, rb)) != NULL) {
			*cause = xasprintf("%s does not exist; %s: %s", where, vars[i].var, why);
			return -EINVAL;
		}
		*(char **)(void *)((char *)cr + vars[i].off) = xstrdup(v);
	}
	return 0;
}

int
credentials_load(const struct config *cfg, struct credentials **out, char **cause)
{
	const char *file = cfg->credentials != NULL ? cfg->credentials : CREDENTIALS_DEFAULT_PATH;
	struct credentials *cr = NULL;
	char *where = creds_where(cfg, file);
	int fd, rc;

	*out = NULL;
	/* O_NONBLOCK: a FIFO planted at the path must not hang the daemon before fstat. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && !cfg->credentials_explicit) {
		cr = xcalloc(1, sizeof(*cr));
		rc = creds_from_env(where, cr, cause);
	} else if (fd < 0) {
		rc = -errno;
		*cause = xasprintf("%s: %s", where, strerror(errno));
	} else {
		rc = creds_from_file(where, file, fd, &cr, cause);
		close(fd);
	}
	free(where);
	if (rc != 0) {
		credentials_free(cr);
		return rc;
	}
	*out = cr;
	return 0;
}
