/*
 * The control protocol (ctl-protocol.h): the command table, request parsing
 * for the daemon and request building for smsguardctl. Pure: no I/O, so the
 * parser is unit-tested and fuzzed on its own. Every field a client sends is
 * checked here before the daemon sees it; anything not understood is an
 * error rather than ignored, so a typo never silently does something else.
 */
#include <errno.h>
#include <string.h>

#include "smsguard/ctl-protocol.h"
#include "smsguard/util.h"

#define CTL_CMD_INFO(ID, NAME, USAGE, KIND, SUMMARY, HELP)                                         \
	[CTL_CMD_##ID] = {#NAME, CTL_CMD_##ID, KIND, USAGE, SUMMARY, HELP},
const struct ctl_cmd_info ctl_commands[CTL_CMD_COUNT] = {CTL_COMMANDS(CTL_CMD_INFO)};
#undef CTL_CMD_INFO

static const char *const wait_until_names[CTL_WAIT_COUNT] = {
    [CTL_WAIT_FINISHED] = "finished",
    [CTL_WAIT_RUNNING] = "running",
    [CTL_WAIT_FAILED] = "failed",
};

#define ERR_TOO_LARGE "request too large"
#define ERR_MALFORMED "malformed JSON"
#define ERR_NOT_OBJECT "request is not a JSON object"
#define ERR_UNKNOWN_KEY "unknown key in request"
#define ERR_DUPLICATE_KEY "duplicate key in request"
#define ERR_VERSION "unsupported protocol version"
#define ERR_NO_CMD "missing cmd"
#define ERR_CMD_TYPE "cmd is not a string"
#define ERR_UNKNOWN_CMD "unknown command"
#define ERR_ARGS_TYPE "args is not an object"
#define ERR_ARG_UNKNOWN "bad argument: unknown argument"
#define ERR_ARG_DUPLICATE "bad argument: duplicate argument"
#define ERR_ARG_N "bad argument: n must be an integer from 1 to 200"
#define ERR_ARG_SINCE "bad argument: since must be an event's seq (a whole number >= 0)"
#define ERR_ARG_UNTIL "bad argument: until must be finished, running or failed"
#define ERR_ARG_TIMEOUT "bad argument: timeout must be a duration up to 31d"
#define ERR_ARG_DURATION "bad argument: duration must be a duration from 1ms to 31d"
#define ERR_REPLY "malformed reply"
#define ERR_REPLY_TOO_LARGE "reply too large"

const struct ctl_cmd_info *
ctlproto_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < nitems(ctl_commands); i++) {
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	}
	return NULL;
}

/* Copies the word at *pos (up to a space, ']' or the end) into buf. */
static int
usage_word(const char **pos, char *buf, size_t size)
{
	size_t len = strcspn(*pos, " []");

	if (len == 0 || len >= size)
		return -EINVAL;
	memcpy(buf, *pos, len);
	buf[len] = '\0';
	*pos += len;
	return 0;
}

/* An option's name: "-x" or "--long". */
static bool
usage_option_ok(const char *name)
{
	if (name[1] == '-')
		return name[2] != '\0';
	return name[1] != '\0' && name[2] == '\0';
}

int
ctlproto_usage_next(const char **pos, struct ctl_usage_item *item)
{
	const char *p = *pos + strspn(*pos, " ");

	memset(item, 0, sizeof(*item));
	if (*p == '\0')
		goto done;
	if ((item->optional = *p == '['))
		p++;
	if (usage_word(&p, item->name, sizeof(item->name)) < 0)
		goto fail;
	item->option = item->name[0] == '-';
	/* Outside brackets "-x V" could as well be an option and an argument. */
	if (item->option && (!item->optional || !usage_option_ok(item->name)))
		goto fail;
	if (item->option && *p == ' ') {
		p++;
		if (usage_word(&p, item->value, sizeof(item->value)) < 0 || item->value[0] == '-')
			goto fail;
	}
	if (item->optional && *p++ != ']')
		goto fail;
	if (*p != '\0' && *p != ' ')
		goto fail;
done:
	*pos = p;
	return item->name[0] != '\0';

fail:
	memset(item, 0, sizeof(*item));
	return -EINVAL;
}

bool
ctlproto_usage_has(const char *usage, const char *option)
{
	struct ctl_usage_item item;
	bool found = false;

	while (!found && ctlproto_usage_next(&usage, &item) > 0)
		found = item.option && strcmp(item.name, option) == 0;
	return found;
}

void
ctlproto_usage_args(const char *usage, int *min, int *max)
{
	struct ctl_usage_item item;

	*min = *max = 0;
	while (ctlproto_usage_next(&usage, &item) > 0) {
		if (item.option)
			continue;
		(*max)++;
		if (!item.optional)
			(*min)++;
	}
}

const char *
ctlproto_wait_until_name(int until)
{
	if (until < 0 || until >= CTL_WAIT_COUNT)
		return NULL;
	return wait_until_names[until];
}

int
ctlproto_wait_until_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < CTL_WAIT_COUNT; i++) {
		if (strcmp(wait_until_names[i], name) == 0)
			return i;
	}
	return -1;
}

/*
 * A whole JSON number in [lo, hi]. The range check comes before the cast:
 * converting an out-of-range double to an integer is undefined.
 */
static bool
json_whole_number(const cJSON *item, double lo, double hi, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(item))
		return false;
	d = item->valuedouble;
	if (!(d >= lo && d <= hi))
		return false;
	if ((double)(uint64_t)d != d)
		return false;
	*out = (uint64_t)d;
	return true;
}

/* A duration as a string ("1m30s") or a number of milliseconds. */
static bool
json_duration(const cJSON *item, uint64_t *out_ms)
{
	uint64_t ms;

	if (cJSON_IsString(item)) {
		if (util_parse_duration_ms(item->valuestring, &ms) != 0)
			return false;
	} else if (!json_whole_number(item, 0, (double)CTL_DURATION_MAX_MS, &ms)) {
		return false;
	}
	if (ms > CTL_DURATION_MAX_MS)
		return false;
	*out_ms = ms;
	return true;
}

/* One argument of one command; returns NULL or the error. */
static const char *
parse_arg(struct ctl_request *req, const cJSON *arg, unsigned *seen)
{
	const char *key = arg->string;
	uint64_t v;
	int until;

	switch (req->cmd) {
	case CTL_CMD_EVENTS:
		if (strcmp(key, "since") == 0) {
			if (*seen & 0x2)
				return ERR_ARG_DUPLICATE;
			*seen |= 0x2;
			if (!json_whole_number(arg, 0, (double)CTL_SEQ_MAX, &req->events_since))
				return ERR_ARG_SINCE;
			return NULL;
		}
		if (strcmp(key, "n") != 0)
			return ERR_ARG_UNKNOWN;
		if (*seen & 0x1)
			return ERR_ARG_DUPLICATE;
		*seen |= 0x1;
		if (!json_whole_number(arg, 1, CTL_EVENTS_MAX, &v))
			return ERR_ARG_N;
		req->events_n = (int)v;
		return NULL;
	case CTL_CMD_WAIT:
		if (strcmp(key, "until") == 0) {
			if (*seen & 0x1)
				return ERR_ARG_DUPLICATE;
			*seen |= 0x1;
			if (!cJSON_IsString(arg))
				return ERR_ARG_UNTIL;
			until = ctlproto_wait_until_from_name(arg->valuestring);
			if (until < 0)
				return ERR_ARG_UNTIL;
			req->wait_until = until;
			return NULL;
		}
		if (strcmp(key, "timeout") == 0) {
			if (*seen & 0x2)
				return ERR_ARG_DUPLICATE;
			*seen |= 0x2;
			if (!json_duration(arg, &req->timeout_ms))
				return ERR_ARG_TIMEOUT;
			return NULL;
		}
		return ERR_ARG_UNKNOWN;
	case CTL_CMD_PAUSE:
		if (strcmp(key, "duration") != 0)
			return ERR_ARG_UNKNOWN;
		if (*seen & 0x1)
			return ERR_ARG_DUPLICATE;
		*seen |= 0x1;
		/* 0 would mean "until resume", which is said by leaving it out. */
		if (!json_duration(arg, &req->timeout_ms) || req->timeout_ms == 0)
			return ERR_ARG_DURATION;
		return NULL;
	default:
		return ERR_ARG_UNKNOWN;
	}
}

static const char *
parse_args(struct ctl_request *req, const cJSON *args)
{
	const cJSON *arg;
	const char *err;
	unsigned seen = 0;

	if (!cJSON_IsObject(args))
		return ERR_ARGS_TYPE;
	cJSON_ArrayForEach(arg, args)
	{
		if (arg->string == NULL)
			return ERR_ARG_UNKNOWN;
		if ((err = parse_arg(req, arg, &seen)) != NULL)
			return err;
	}
	return NULL;
}

/* Checks the top-level members and finds cmd and args; NULL or the error. */
static const char *
parse_members(const cJSON *root, const cJSON **cmd, const cJSON **args)
{
	const cJSON *item, *v = NULL;

	*cmd = *args = NULL;
	cJSON_ArrayForEach(item, root)
	{
		const cJSON **slot;

		if (item->string == NULL)
			return ERR_UNKNOWN_KEY;
		if (strcmp(item->string, "v") == 0)
			slot = &v;
		else if (strcmp(item->string, "cmd") == 0)
			slot = cmd;
		else if (strcmp(item->string, "args") == 0)
			slot = args;
		else
			return ERR_UNKNOWN_KEY;
		/* cJSON keeps both copies of a key; refuse rather than guess which one counts. */
		if (*slot != NULL)
			return ERR_DUPLICATE_KEY;
		*slot = item;
	}
	if (v != NULL && !(cJSON_IsNumber(v) && v->valuedouble == CTL_PROTOCOL_VERSION))
		return ERR_VERSION;
	if (*cmd == NULL)
		return ERR_NO_CMD;
	if (!cJSON_IsString(*cmd))
		return ERR_CMD_TYPE;
	return NULL;
}

/*
 * Whether the text holds the escape \u0000. cJSON decodes it into a NUL that
 * ends the C string early, so "status\u0000x" would read as "status": such a
 * request is refused rather than half read.
 */
static bool
has_escaped_nul(const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	size_t backslashes;

	while ((p = memchr(p, 'u', (size_t)(end - p))) != NULL) {
		const char *b = p;

		for (backslashes = 0; b > line && b[-1] == '\\'; b--)
			backslashes++;
		/* An odd run of backslashes: the last one escapes the 'u'. */
		if (backslashes % 2 == 1 && end - p >= 5 && memcmp(p + 1, "0000", 4) == 0)
			return true;
		p++;
	}
	return false;
}

/* Parses a whole line as one JSON value with nothing but white space after it. */
static cJSON *
parse_line(const char *line, size_t len)
{
	const char *end = NULL;
	cJSON *root;

	/* A NUL inside the line would end cJSON's strings early: not JSON. */
	if (line == NULL || len == 0 || memchr(line, '\0', len) != NULL)
		return NULL;
	if (has_escaped_nul(line, len))
		return NULL;
	root = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (root == NULL)
		return NULL;
	while (end < line + len && strchr(" \t\r\n", *end) != NULL)
		end++;
	if (end != line + len) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int
ctlproto_parse(const char *line, size_t len, struct ctl_request *req, const char **error)
{
	const struct ctl_cmd_info *info;
	const cJSON *cmd, *args;
	const char *err = NULL;
	cJSON *root = NULL;

	memset(req, 0, sizeof(*req));
	req->wait_until = CTL_WAIT_FINISHED;
	/* The limit counts the newline, which the caller has already cut off. */
	if (len > CTL_MAX_REQUEST - 1) {
		err = ERR_TOO_LARGE;
		goto fail;
	}
	if ((root = parse_line(line, len)) == NULL) {
		err = ERR_MALFORMED;
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		err = ERR_NOT_OBJECT;
		goto fail;
	}
	if ((err = parse_members(root, &cmd, &args)) != NULL)
		goto fail;
	if ((info = ctlproto_find(cmd->valuestring)) == NULL) {
		err = ERR_UNKNOWN_CMD;
		goto fail;
	}
	req->cmd = info->cmd;
	req->flags = info->flags;
	if (args != NULL && (err = parse_args(req, args)) != NULL)
		goto fail;
	cJSON_Delete(root);
	return 0;

fail:
	cJSON_Delete(root);
	memset(req, 0, sizeof(*req));
	if (error != NULL)
		*error = err;
	return -EINVAL;
}

/* The request's arguments, or NULL when it has none. */
static cJSON *
build_args(const struct ctl_request *req)
{
	cJSON *args = cJSON_CreateObject();
	const char *until;

	if (args == NULL)
		return NULL;
	switch (req->cmd) {
	case CTL_CMD_EVENTS:
		if (req->events_n > 0)
			cJSON_AddNumberToObject(args, "n", req->events_n);
		if (req->events_since > 0)
			cJSON_AddNumberToObject(args, "since", (double)req->events_since);
		break;
	case CTL_CMD_WAIT:
		if ((until = ctlproto_wait_until_name(req->wait_until)) != NULL)
			cJSON_AddStringToObject(args, "until", until);
		if (req->timeout_ms > 0)
			cJSON_AddNumberToObject(args, "timeout", (double)req->timeout_ms);
		break;
	case CTL_CMD_PAUSE:
		if (req->timeout_ms > 0)
			cJSON_AddNumberToObject(args, "duration", (double)req->timeout_ms);
		break;
	default:
		break;
	}
	if (args->child == NULL) {
		cJSON_Delete(args);
		return NULL;
	}
	return args;
}

char *
ctlproto_build(const struct ctl_request *req)
{
	cJSON *root = NULL, *args;
	char *line = NULL;

	if ((unsigned)req->cmd >= CTL_CMD_COUNT)
		goto out;
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	cJSON_AddNumberToObject(root, "v", CTL_PROTOCOL_VERSION);
	cJSON_AddStringToObject(root, "cmd", ctl_commands[req->cmd].name);
	if ((args = build_args(req)) != NULL)
		cJSON_AddItemToObject(root, "args", args);
	line = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return line;
}

char *
ctlproto_error_reply(const char *error)
{
	cJSON *root;
	char *line = NULL;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddFalseToObject(root, CTL_KEY_OK) != NULL &&
	    cJSON_AddStringToObject(root, CTL_KEY_ERROR, error != NULL ? error : "error") != NULL)
		line = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return line;
}

int
ctlproto_parse_reply(const char *line, size_t len, cJSON **reply, bool *ok, const char **error)
{
	const char *err;
	cJSON *root = NULL;
	const cJSON *okitem;

	*reply = NULL;
	if (len > CTL_MAX_REPLY) {
		err = ERR_REPLY_TOO_LARGE;
		goto fail;
	}
	err = ERR_REPLY;
	if ((root = parse_line(line, len)) == NULL || !cJSON_IsObject(root))
		goto fail;
	okitem = cJSON_GetObjectItemCaseSensitive(root, CTL_KEY_OK);
	if (!cJSON_IsBool(okitem))
		goto fail;
	*ok = cJSON_IsTrue(okitem);
	*reply = root;
	return 0;

fail:
	cJSON_Delete(root);
	if (error != NULL)
		*error = err;
	return -EINVAL;
}
