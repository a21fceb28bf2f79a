/*
 * state.json (DESIGN.md §5.10): read once at start, written atomically
 * (temp file, fsync, rename, fsync of the directory) on every change that
 * matters. A missing or corrupt file is reported and replaced, never fatal.
 */
#ifndef SMSGUARD_STORE_H
#define SMSGUARD_STORE_H

#include <cjson/cJSON.h>

#define STORE_MAX_SIZE (16 * 1024 * 1024)

struct store {
	char *dir;
	char *path; /* <dir>/state.json */
	char *tmp;  /* <dir>/.state.json.tmp */
	unsigned long writes;
	int last_error; /* 0 or negative errno of the last failed save */
};

/* Creates the directory (0700) when missing. 0 or a negative errno with *cause. */
int store_open(struct store *st, const char *dir, char **cause);
/*
 * 0 with *out a new object; -ENOENT when there is no file; -EINVAL when the
 * file is corrupt (it is then kept aside as state.json.corrupt and *cause says
 * why); other negative errno on I/O errors.
 */
int store_load(struct store *st, cJSON **out, char **cause);
/* Atomic replace. 0 or a negative errno (logged when it differs from the last one). */
int store_save(struct store *st, const cJSON *doc);
void store_close(struct store *st);

#endif
