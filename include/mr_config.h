/*
 * Configuration: one table of MMAPREAD_* variables, parsed once.
 *
 * Every bad value prints one line naming the variable and what was expected,
 * and the default stays. The parsers are plain functions for unit tests.
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest MMAPREAD_STATS_FILE accepted, NUL included. */
#define MR_PATH_MAX 1024

enum mr_report_format { MR_FORMAT_TEXT, MR_FORMAT_JSON };

struct mr_config {
	bool disable;
	bool stats;
	bool verify;
	bool print_config;
	bool stdio;
	uint64_t max_size;
	uint64_t min_size;
	uint64_t map_after;
	uint64_t top;
	uint64_t stats_format;        /* enum mr_report_format */
	uint64_t trace;               /* mask of enum mr_trace_kind */
	char stats_file[MR_PATH_MAX]; /* "" unless set */
	char include[MR_PATH_MAX];    /* ':'-separated fnmatch() patterns */
	char exclude[MR_PATH_MAX];
};

/*
 * MR_OPT_CHOICE: one of the '|'-separated words in the option's choices,
 * stored as its index (uint64_t).
 */
enum mr_option_type {
	MR_OPT_BOOL,
	MR_OPT_SIZE,
	MR_OPT_COUNT,
	MR_OPT_PATH,
	MR_OPT_CHOICE,
	MR_OPT_TRACE,   /* mr_parse_trace(): a uint64_t mask */
};

struct mr_option {
	const char *name;
	enum mr_option_type type;
	size_t field;            /* offsetof(struct mr_config, …) */
	const char *default_text;
	const char *help;
	const char *choices;     /* MR_OPT_CHOICE only */
};

extern const struct mr_option mr_options[];
extern const size_t mr_option_count;

/* The configuration of this process (defaults until parsed). */
const struct mr_config *mr_config(void);

/* Parse the environment now, if nobody has yet. */
void mr_config_init(void);

/*
 * Fill *cfg from the defaults and then from lookup(name) for each option;
 * warnings go to warn_fd (-1: none). Returns the number of bad values.
 */
int mr_config_load(struct mr_config *cfg,
		   const char *(*lookup)(const char *name), int warn_fd);

/*
 * A secure-execution process (setuid, setgid, file capabilities: AT_SECURE)
 * must not create files that its environment names: drop such options,
 * with one line to warn_fd for each. Returns how many were dropped.
 */
int mr_config_secure(struct mr_config *cfg, bool secure, int warn_fd);

/* 1/0, yes/no, on/off, true/false, any case: 0 or -EINVAL. */
int mr_parse_bool(const char *text, bool *ret_value);

/*
 * A byte count: digits with an optional K, M, G or T suffix (powers of
 * 1024, optional trailing "iB" or "B"). 0, -EINVAL, or -ERANGE on overflow.
 */
int mr_parse_size(const char *text, uint64_t *ret_value);

/* A plain count: decimal digits that fit in 32 bits. 0, -EINVAL, -ERANGE. */
int mr_parse_count(const char *text, uint64_t *ret_value);

/* One of the '|'-separated choices, any case: its index, or -EINVAL. */
int mr_parse_choice(const char *text, const char *choices,
		    uint64_t *ret_index);

/*
 * Whether path passes MMAPREAD_INCLUDE (empty: everything) and is not
 * matched by MMAPREAD_EXCLUDE; patterns are fnmatch() globs, ':'-separated.
 */
bool mr_config_path_allowed(const struct mr_config *cfg, const char *path);

/* Write every option with its value, default and help to fd, a line each. */
void mr_config_print(const struct mr_config *cfg, int fd);

#endif
