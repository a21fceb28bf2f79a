/*
 * The keys of smsguard.conf (config_keys.c), as the reader (config.c) sees
 * them. Internal to the config module.
 */
#ifndef SMSGUARD_CONFIG_KEYS_H
#define SMSGUARD_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsguard/config.h"

#define CONFIG_MAX_KEYS 64

#define KEY_JOIN 0x1  /* continuation lines join the value with a space */
#define KEY_LINES 0x2 /* continuation lines are further lines of the value */

struct cfgkey;

/* Stores the value in cfg; returns NULL, or the reason the value is bad (malloc'd). */
typedef char *(*parse_fn)(struct config *cfg, const struct cfgkey *k, const char *v);

struct cfgkey {
	const char *section;
	const char *name;
	parse_fn parse; /* NULL: nothing to check */
	size_t off;     /* the field in struct config, for the generic parsers */
	uint64_t min, max;
	int flags;
};

extern const struct cfgkey config_keys[];
extern const size_t config_nkeys;

/*
 * Checks a non-empty value of config_keys[i] and stores it in cfg; returns
 * NULL, or the reason it is refused (malloc'd).
 */
char *config_key_parse(struct config *cfg, int i, const char *v);
/* The index of [section] name in config_keys, or -1. */
int config_key_find(const char *section, const char *name);
bool config_section_known(const char *name, size_t len);

#endif
