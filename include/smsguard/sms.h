/*
 * SMS v3 and SMN v2 request builders (src/sms_build.c) and response parsers
 * (src/sms_parse.c, over the field reader in src/sms_field.c; reference §2–§6,
 * §8). Pure: bodies in, plain structs out. Bodies need not be NUL-terminated.
 *
 * Parsers accept null or absence for every field, extra fields and unknown
 * states. A malformed field degrades that field only (DESIGN §5.4): a wrong
 * type, an identifier longer than the schema allows or with spaces or control
 * characters, a number out of range or an error_json that does not parse
 * leaves that field at its unknown value and sets its bit in `bad`; the rest
 * of the answer is used. Only an unusable `id` (and `state`, for tasks) makes
 * an answer bad (-EBADMSG, *cause says which field). Absent, null and "" are
 * not malformed. Human text (names, messages) is cut to its buffer on a UTF-8
 * boundary instead.
 *
 * On success *cause (when cause is not NULL) is NULL, or a note naming every
 * degraded field and why, "error_json: not JSON; sub_tasks[].progress: out of
 * range", and, in lists, the items that were dropped for want of an id or a
 * state, "tasks[3].id: missing (item dropped)". The note holds no text of the
 * response, so it can be logged as it is. The caller frees it either way. To
 * log a bad field once, log the note when `bad` differs from the previous
 * answer's (sms_task_bad_names() gives the field names alone).
 */
#ifndef SMSGUARD_SMS_H
#define SMSGUARD_SMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsguard/schedule.h"
#include "smsguard/task.h"

#define SMS_ID_MAX 64 /* task ids are 1..36; source ids alike */
#define SMS_NAME_MAX 255
#define SMS_STATE_MAX 63        /* raw state strings */
#define SMS_IP_MAX 63           /* an IPv6 address with a zone fits */
#define SMS_CODE_MAX 63         /* "SMS.2802", "APIGW.0301" */
#define SMS_MSG_MAX 511         /* error messages, truncated */
#define SMS_ERROR_JSON_MAX 1024 /* error_json's maxLength */
#define SMS_ERROR_PARAMS_MAX 8
#define SMS_ERROR_PARAM_LEN 127
#define SMS_LIST_MAX 200 /* limit's maximum in ListTasks / ListServers */
#define SMS_BODY_MAX (1024 * 1024)
#define SMS_SMN_SUBJECT_MAX 512

/* A bool the response may leave out. */
enum sms_tristate {
	SMS_ABSENT = 0,
	SMS_FALSE,
	SMS_TRUE,
};

/* Bits of sms_task.bad: the response field that was malformed, now unknown. */
enum sms_task_field {
	SMS_TASK_NAME = 1u << 0,
	SMS_TASK_TYPE = 1u << 1,
	SMS_TASK_OS_TYPE = 1u << 2,
	SMS_TASK_ERROR_JSON = 1u << 3, /* see error_code and error_message */
	SMS_TASK_MIGRATION_IP = 1u << 4,
	SMS_TASK_SOURCE_SERVER = 1u << 5, /* not an object: source_id, _ip, _name unknown */
	SMS_TASK_SOURCE_ID = 1u << 6,
	SMS_TASK_SOURCE_IP = 1u << 7,
	SMS_TASK_SOURCE_NAME = 1u << 8,
	SMS_TASK_SUB_TASKS = 1u << 9, /* not an array, or elements skipped */
	SMS_TASK_SUBTASK_NAME = 1u << 10,
	SMS_TASK_PROGRESS = 1u << 11,
	SMS_TASK_MIGRATE_SPEED = 1u << 12,
	SMS_TASK_REMAIN_SECONDS = 1u << 13,
	SMS_TASK_CONNECTED = 1u << 14,
	SMS_TASK_CREATE_DATE = 1u << 15,
	SMS_TASK_START_DATE = 1u << 16,
	SMS_TASK_FINISH_DATE = 1u << 17,
	SMS_TASK_SPEED_LIMIT = 1u << 18,
};

struct sms_task {
	char id[SMS_ID_MAX + 1];
	char name[SMS_NAME_MAX + 1];
	enum task_type type;
	enum task_os os_type;
	enum task_state state;
	char state_raw[SMS_STATE_MAX + 1]; /* as SMS said it; kept for unknown states */

	/*
	 * From error_json; "" and 0 params when there is no error. Of a
	 * malformed error_json, what is good is kept; without a good code,
	 * error_code is the only SMS.NNNN token in its text, or "".
	 */
	char error_code[SMS_CODE_MAX + 1];
	int nerror_params;
	char error_params[SMS_ERROR_PARAMS_MAX][SMS_ERROR_PARAM_LEN + 1];
	char error_message[SMS_MSG_MAX + 1]; /* a malformed error_json's text, printable */

	char migration_ip[SMS_IP_MAX + 1];
	char source_id[SMS_ID_MAX + 1];
	char source_ip[SMS_IP_MAX + 1];
	char source_name[SMS_NAME_MAX + 1];

	/*
	 * The current sub-task: the first without end_date, else the last.
	 * Elements that are not objects, or whose end_date is not a number,
	 * are skipped.
	 */
	char subtask[SMS_NAME_MAX + 1]; /* "" when there are no sub-tasks */
	int progress;                   /* 0..100, -1 unknown */

	bool has_migrate_speed; /* false when absent or unknown */
	double migrate_speed;   /* Mbit/s, 0..100000 */
	int64_t remain_seconds; /* 0..10 years, -1 absent or unknown */
	enum sms_tristate connected;
	int64_t create_ms, start_ms, finish_ms; /* epoch ms in 2000..2199, 0 absent or unknown */
	int64_t speed_limit; /* legacy single limit 0..65535; -1 absent or unknown */

	uint32_t bad; /* SMS_TASK_* bits: fields that were malformed */
};

/* Bits of sms_source.bad. */
enum sms_source_field {
	SMS_SOURCE_NAME = 1u << 0,
	SMS_SOURCE_IP = 1u << 1,
	SMS_SOURCE_STATE = 1u << 2,
	SMS_SOURCE_CONNECTED = 1u << 3,
	SMS_SOURCE_CURRENT_TASK = 1u << 4, /* not an object */
	SMS_SOURCE_CURRENT_TASK_ID = 1u << 5,
	SMS_SOURCE_CURRENT_TASK_STATE = 1u << 6,
};

struct sms_source {
	char id[SMS_ID_MAX + 1];
	char name[SMS_NAME_MAX + 1];
	char ip[SMS_IP_MAX + 1];
	char state[SMS_STATE_MAX + 1]; /* lower-case source state, raw */
	enum sms_tristate connected;
	char current_task_id[SMS_ID_MAX + 1]; /* "" when none */
	char current_task_state[SMS_STATE_MAX + 1];
	uint32_t bad; /* SMS_SOURCE_* bits */
};

/* An error body of any documented shape: SMS, API Gateway, SMN. */
struct sms_error {
	int status; /* HTTP status, filled by the caller; 0 unknown */
	char code[SMS_CODE_MAX + 1];
	char msg[SMS_MSG_MAX + 1];
	char request_id[SMS_ID_MAX + 1];
};

/* GET /v3/tasks/{id}. Returns 0 or -EBADMSG (*cause malloc'd when not NULL; see above). */
int sms_task_parse(const char *body, size_t len, struct sms_task *out, char **cause);
/*
 * GET /v3/tasks: *out is a new array of *n tasks (NULL when 0); at most
 * SMS_LIST_MAX. An item without a usable id or state is dropped, and named
 * in the note; the others are kept. A list that is not an array is bad.
 */
int sms_task_list_parse(const char *body, size_t len, struct sms_task **out, int *n, char **cause);
/* GET /v3/sources/{id}. */
int sms_source_parse(const char *body, size_t len, struct sms_source *out, char **cause);
/* GET /v3/sources: as sms_task_list_parse; an item needs only a usable id. */
int sms_source_list_parse(
    const char *body, size_t len, struct sms_source **out, int *n, char **cause);
/*
 * GET /v3/tasks/{id}/speed-limit: at most SCHEDULE_MAX_PERIODS periods;
 * returns the count. Here a malformed field makes the answer bad: a schedule
 * with a hole in it is not the schedule.
 */
int sms_speed_limits_parse(
    const char *body, size_t len, struct schedule_period out[SCHEDULE_MAX_PERIODS], char **cause);

/*
 * The task's error_json: a JSON object in a string, whose error_param is
 * itself a JSON-encoded array of strings (or, leniently, an array). An empty
 * string means no error. Fills the error fields of t. Returns 0, or -EBADMSG
 * when s is malformed: what could be read is kept (a good error_code, the
 * good params), else error_code is the only SMS.NNNN token in s, if any, and
 * error_message is s made printable and cut to SMS_MSG_MAX bytes.
 */
int sms_error_json_parse(const char *s, size_t len, struct sms_task *t);

/*
 * The response names of the fields in a bad mask, comma-separated
 * ("error_json,sub_tasks[].progress"); "" for 0. Returns buf.
 */
char *sms_task_bad_names(uint32_t bad, char *buf, size_t len);
char *sms_source_bad_names(uint32_t bad, char *buf, size_t len);

/*
 * Any error body: error_code/error_msg (SMS, APIGW; request_id optional),
 * errorCode/errorMsg, code/message (SMN), or the first of details[]. A code
 * or request id that is not a token (printable ASCII, no spaces) is left
 * out; the message is made printable as error_message is.
 * Returns 0 when a code was found, -EBADMSG otherwise (out then holds what
 * was found; its status is left alone).
 */
int sms_error_parse(const char *body, size_t len, struct sms_error *out);

/* "HH:MM" → minutes (also "H:MM", "24:00"); -1 when malformed. */
int sms_parse_hhmm(const char *s);

/* Request bodies (new strings). */
char *sms_action_body(const char *operation);
/*
 * {"speed_limit":[{"start":"HH:MM","end":"HH:MM","speed":N,"over_speed_threshold":T},…]}.
 * An end of 1439 or later is written "23:59". threshold <= 0 leaves it out.
 * Returns NULL for n outside 0..SCHEDULE_MAX_PERIODS.
 */
char *sms_speed_limit_body(const struct schedule_period *p, int n, double threshold);
/* {"subject":…,"message":…,"time_to_live":"N"}; subject cut to 512 bytes on a UTF-8 boundary. */
char *sms_smn_publish_body(const char *subject, const char *message, unsigned ttl_s);

/* Paths (new strings; ids percent-encoded). */
char *sms_task_path(const char *task_id);
char *sms_task_action_path(const char *task_id);
char *sms_speed_limit_path(const char *task_id);
/* Queries without '?': "source_server_id=…&limit=200", "ip=…&limit=200", "name=…&limit=200". */
char *sms_tasks_by_source_query(const char *source_id);
char *sms_sources_by_ip_query(const char *ip);
char *sms_sources_by_name_query(const char *name);

/*
 * "urn:smn:<region>:<project_id>:<topic>" → its parts (new strings, any may
 * be NULL to skip). Returns 0 or -EINVAL.
 */
int sms_smn_urn_parse(const char *urn, char **region, char **project_id, char **topic);
/* /v2/{project_id}/notifications/topics/{urn, percent-encoded}/publish, or NULL for a bad URN. */
char *sms_smn_publish_path(const char *urn);
/*
 * The SMN endpoint of a region, as the SDKs list it:
 * https://smn.<region>.myhuaweicloud.com (.cn for cn-north-2, .eu for eu-west-101).
 */
char *sms_smn_default_endpoint(const char *region);

#endif
