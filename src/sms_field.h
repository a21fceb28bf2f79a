/*
 * The defensive field reader the SMS response parsers share (sms_field.c):
 * a malformed field degrades that field only, sets its bit and adds to the
 * note (see smsguard/sms.h). Internal to the sms module: sms_parse.c uses it.
 */
#ifndef SMSGUARD_SMS_FIELD_H
#define SMSGUARD_SMS_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/sms.h"

#define NOTE_MAX 512

/* What to do with a string longer than its buffer. */
enum fit {
	FIT_TOKEN = 0, /* identifiers: a longer one, or one with spaces, is not what SMS sends */
	FIT_TRUNCATE,  /* human text */
};

/*
 * One parse: the bad bits of the struct being filled, and the note on what
 * was degraded, in the names of the response. Lists prefix "tasks[3].".
 */
struct pctx {
	const char *const *names; /* bit number → field name */
	uint32_t *bad;
	const char *list; /* "tasks", "source_servers" or NULL */
	int index;
	const char *fail_key, *fail_what; /* why the answer or item is unusable */
	char note[NOTE_MAX];
	size_t len;
	bool full;
};

/* Sets *cause to "key: what" unless it is set already; returns -EBADMSG. */
int sms_bad(char **cause, const char *what, const char *key);

/* "tasks[3].sub_tasks[].progress: out of range"; field NULL names the item. */
void sms_note_add(struct pctx *p, const char *field, const char *what);
/* A list item without a usable id or state (p->fail_key, p->fail_what). */
void sms_note_drop(struct pctx *p);
/* The note for the caller (NULL when nothing was degraded). */
void sms_note_give(struct pctx *p, char **cause);
/* A present field was malformed: it is unknown now, and the note says why. */
void sms_degrade(struct pctx *p, uint32_t bit, const char *what);

/* Printable ASCII without spaces: what ids, addresses, states and codes are made of. */
bool sms_is_token(const char *s);
/* strlcpy that never cuts a UTF-8 sequence in half. */
void sms_copy_text(char *buf, size_t cap, const char *s, size_t len);

/* Present and neither null: a value to read. */
const cJSON *sms_member(const cJSON *obj, const char *key);

/*
 * The getters: a field absent or null is left at its unknown value; a
 * malformed one too, and it is degraded under bit.
 */
void sms_get_string(struct pctx *p, const cJSON *obj, const char *key, char *buf, size_t cap,
    enum fit fit, uint32_t bit);
/* A number in lo..hi; dflt when absent, null or malformed. Fractions are cut. */
void sms_get_int64(struct pctx *p, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
    int64_t dflt, int64_t *out, uint32_t bit);
/* An epoch-ms date; 0 when absent, null, zero or malformed. */
void sms_get_date(struct pctx *p, const cJSON *obj, const char *key, int64_t *out, uint32_t bit);
void sms_get_double(struct pctx *p, const cJSON *obj, const char *key, double lo, double hi,
    bool *has, double *out, uint32_t bit);
void sms_get_tristate(
    struct pctx *p, const cJSON *obj, const char *key, enum sms_tristate *out, uint32_t bit);
/* An object member; NULL when absent, null or not an object. */
const cJSON *sms_get_object(struct pctx *p, const cJSON *obj, const char *key, uint32_t bit);
const cJSON *sms_get_array(struct pctx *p, const cJSON *obj, const char *key, uint32_t bit);

/* An id or a state the answer cannot do without; -EBADMSG sets p->fail_key and fail_what. */
int sms_need(struct pctx *p, const cJSON *obj, const char *key, char *buf, size_t cap);

/* The body as a JSON object (the caller deletes it), or NULL with *cause set. */
cJSON *sms_parse_body(const char *body, size_t len, char **cause);

#endif
