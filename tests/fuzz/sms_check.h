/*
 * What every parsed SMS answer must hold, whatever the bytes were: strings
 * end inside their buffers, numbers are in their documented ranges, only
 * known bits are bad, and text meant for the log or a person is printable.
 * A broken promise aborts, so libFuzzer reports it as a crash.
 */
#ifndef SMSGUARD_FUZZ_SMS_CHECK_H
#define SMSGUARD_FUZZ_SMS_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "smsguard/sms.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)
#define CHECK_STR(buf) CHECK(memchr((buf), '\0', sizeof(buf)) != NULL)

/* Identifiers: printable ASCII without spaces. */
static inline void
check_token(const char *s, int required)
{
	CHECK(!required || s[0] != '\0');
	for (; *s != '\0'; s++)
		CHECK(*s >= 0x21 && *s <= 0x7e);
}

/* The note in *cause: our own words only, fit for a log line as it is. */
static inline void
check_note(const char *cause)
{
	if (cause == NULL)
		return;
	for (; *cause != '\0'; cause++)
		CHECK(*cause >= 0x20 && *cause <= 0x7e);
}

/* No control characters; bytes past 0x7f are UTF-8, checked by the unit tests. */
static inline void
check_printable(const char *s)
{
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
}

static inline void
check_date(int64_t ms)
{
	CHECK(ms == 0 || (ms >= 946684800000LL && ms < 7258118400000LL));
}

static inline void
check_error_fields(const struct sms_task *t)
{
	CHECK_STR(t->error_code);
	CHECK_STR(t->error_message);
	CHECK(t->nerror_params >= 0 && t->nerror_params <= SMS_ERROR_PARAMS_MAX);
	for (int i = 0; i < SMS_ERROR_PARAMS_MAX; i++)
		CHECK_STR(t->error_params[i]);
	check_printable(t->error_message);
}

/* An error body's fields reach log lines and events as they are. */
static inline void
check_sms_error(const struct sms_error *e)
{
	CHECK_STR(e->code);
	CHECK_STR(e->msg);
	CHECK_STR(e->request_id);
	check_token(e->code, 0);
	check_token(e->request_id, 0);
	check_printable(e->msg);
}

static inline void
check_task(const struct sms_task *t)
{
	CHECK_STR(t->id);
	CHECK_STR(t->name);
	CHECK_STR(t->state_raw);
	CHECK_STR(t->migration_ip);
	CHECK_STR(t->source_id);
	CHECK_STR(t->source_ip);
	CHECK_STR(t->source_name);
	CHECK_STR(t->subtask);
	check_token(t->id, 1);
	check_token(t->state_raw, 1);
	check_token(t->migration_ip, 0);
	check_token(t->source_id, 0);
	check_token(t->source_ip, 0);
	check_error_fields(t);
	CHECK((unsigned)t->state < TASK_STATE_COUNT);
	CHECK(t->progress >= -1 && t->progress <= 100);
	CHECK(!t->has_migrate_speed || (t->migrate_speed >= 0 && t->migrate_speed <= 100000));
	CHECK(t->remain_seconds >= -1);
	CHECK(t->speed_limit >= -1 && t->speed_limit <= 65535);
	check_date(t->create_ms);
	check_date(t->start_ms);
	check_date(t->finish_ms);
	CHECK((t->bad & ~((SMS_TASK_SPEED_LIMIT << 1) - 1)) == 0);
}

static inline void
check_source(const struct sms_source *s)
{
	CHECK_STR(s->id);
	CHECK_STR(s->name);
	CHECK_STR(s->ip);
	CHECK_STR(s->state);
	CHECK_STR(s->current_task_id);
	CHECK_STR(s->current_task_state);
	check_token(s->id, 1);
	check_token(s->ip, 0);
	check_token(s->state, 0);
	check_token(s->current_task_id, 0);
	check_token(s->current_task_state, 0);
	CHECK((s->bad & ~((SMS_SOURCE_CURRENT_TASK_STATE << 1) - 1)) == 0);
}

#endif
