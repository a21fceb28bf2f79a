#define LOG_TAG "store"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsguard/log.h"
#include "smsguard/store.h"
#include "smsguard/util.h"

static int
mkdir_p(const char *dir, mode_t mode)
{
	char buf[4096];
	size_t len;

	if (util_strlcpy(buf, dir, sizeof(buf)) >= sizeof(buf))
		return -ENAMETOOLONG;
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -errno;
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

int
store_open(struct store *st, const char *dir, char **cause)
{
	struct stat sb;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = mkdir_p(dir, 0700)) < 0 || (stat(dir, &sb) == -1 && (r = -errno) < 0)) {
		*cause = xasprintf("%s: %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(sb.st_mode)) {
		*cause = xasprintf("%s: not a directory", dir);
		return -ENOTDIR;
	}
	st->dir = xstrdup(dir);
	st->path = xasprintf("%s/state.json", dir);
	st->tmp = xasprintf("%s/.state.json.tmp", dir);
	return 0;
}

static int
read_all(int fd, char **out, size_t *outlen)
{
	size_t cap = 8192, len = 0;
	char *buf = xmalloc(cap);
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap >= STORE_MAX_SIZE) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			int e = -errno;
			free(buf);
			return e;
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
store_load(struct store *st, cJSON **out, char **cause)
{
	char *buf = NULL, *aside;
	size_t len = 0;
	cJSON *doc;
	int fd, r;

	*out = NULL;
	fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		r = -errno;
		if (r != -ENOENT)
			*cause = xasprintf("%s: %s", st->path, strerror(-r));
		return r;
	}
	r = read_all(fd, &buf, &len);
	close(fd);
	if (r < 0 && r != -EFBIG) {
		*cause = xasprintf("%s: %s", st->path, strerror(-r));
		return r;
	}
	doc = r == 0 ? cJSON_ParseWithLength(buf, len) : NULL;
	free(buf);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		/* Keep the bad file for a person to look at; a fresh state replaces it. */
		aside = xasprintf("%s.corrupt", st->path);
		if (rename(st->path, aside) == 0)
			*cause = xasprintf("%s: %s; kept as %s, starting with a fresh state",
			    st->path, r == -EFBIG ? "too large" : "not valid JSON", aside);
		else
			*cause = xasprintf("%s: %s; starting with a fresh state", st->path,
			    r == -EFBIG ? "too large" : "not valid JSON");
		free(aside);
		return -EINVAL;
	}
	*out = doc;
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
store_save(struct store *st, const cJSON *doc)
{
	char *text;
	int fd = -1, dfd = -1, r = 0;

	text = cJSON_PrintUnformatted(doc);
	if (text == NULL)
		return -ENOMEM;
	fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = write_all(fd, text, strlen(text))) < 0 || (r = write_all(fd, "\n", 1)) < 0)
		goto fail;
	if (fsync(fd) == -1) {
		r = -errno;
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(st->tmp, st->path) == -1) {
		r = -errno;
		goto fail;
	}
	/* The rename itself is durable only once the directory is synced. */
	dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd != -1) {
		if (fsync(dfd) == -1)
			r = -errno;
		close(dfd);
	}
	if (r == 0) {
		st->writes++;
		if (st->last_error != 0)
			log_info("wrote %s again", st->path);
	}
fail:
	if (fd != -1) {
		close(fd);
		unlink(st->tmp);
	}
	free(text);
	if (r < 0 && st->last_error != r)
		log_warnx("cannot write %s: %s", st->path, strerror(-r));
	st->last_error = r;
	return r;
}

void
store_close(struct store *st)
{
	free(st->dir);
	free(st->path);
	free(st->tmp);
	memset(st, 0, sizeof(*st));
}
