/*
 * Unit tests for the configuration: the two parsers, mr_config_load() with
 * a fake environment, and the option table itself.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mr_config.h"
#include "mr_trace.h"

/* ---- mr_parse_bool ---------------------------------------------------- */

static void test_parse_bool_accepts(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
		{ "1", true },      { "0", false },     { "yes", true },
		{ "no", false },    { "on", true },     { "off", false },
		{ "true", true },   { "false", false }, { "YES", true },
		{ "No", false },    { "ON", true },     { "oFf", false },
		{ "True", true },   { "FALSE", false }, { "yEs", true },
		{ "tRuE", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Start from the opposite so a parser that does not
		 * store anything is caught. */
		bool value = !cases[i].value;

		print_message("bool '%s'\n", cases[i].text);
		assert_int_equal(mr_parse_bool(cases[i].text, &value), 0);
		assert_int_equal(value, cases[i].value);
	}
}

static void test_parse_bool_rejects(void **state)
{
	static const char *const bad[] = {
		"",     "2",    "-1",     "01",    "10",    "yes ", " yes",
		"y",    "n",    "ye",     "yess",  "tru",   "truee", "onn",
		"of",   "offf", "enable", "nope",  "yes\n", "1 ",   "0x1",
		"true\t",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool value = false;

		print_message("bool '%s'\n", bad[i]);
		assert_int_equal(mr_parse_bool(bad[i], &value), -EINVAL);
	}
}

/* ---- mr_parse_size ---------------------------------------------------- */

struct size_case {
	const char *text;
	uint64_t value;
};

static void check_sizes(const struct size_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* A sentinel that no case expects. */
		uint64_t value = 0xdeadbeefcafe;

		print_message("size '%s'\n", cases[i].text);
		assert_int_equal(mr_parse_size(cases[i].text, &value), 0);
		assert_int_equal(value, cases[i].value);
	}
}

static void check_size_errors(const char *const *texts, size_t n, int err)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t value = 0;

		print_message("size '%s'\n", texts[i]);
		assert_int_equal(mr_parse_size(texts[i], &value), err);
	}
}

static void test_parse_size_plain(void **state)
{
	static const struct size_case cases[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "4096", 4096 },
		{ "007", 7 },
		{ "1B", 1 },
		{ "512b", 512 },
		{ "18446744073709551615", UINT64_MAX },
	};

	(void)state;
	check_sizes(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_size_suffixes(void **state)
{
	static const struct size_case cases[] = {
		{ "1K", 1ull << 10 },
		{ "1k", 1ull << 10 },
		{ "1KiB", 1ull << 10 },
		{ "1kib", 1ull << 10 },
		{ "1KB", 1ull << 10 },
		{ "1kb", 1ull << 10 },
		{ "0K", 0 },
		{ "3M", 3ull << 20 },
		{ "3MiB", 3ull << 20 },
		{ "3MB", 3ull << 20 },
		{ "3m", 3ull << 20 },
		{ "5G", 5ull << 30 },
		{ "5GiB", 5ull << 30 },
		{ "5GB", 5ull << 30 },
		{ "2T", 2ull << 40 },
		{ "2TiB", 2ull << 40 },
		{ "2tb", 2ull << 40 },
		/* The largest multiples that still fit in 64 bits. */
		{ "17179869183G", UINT64_MAX - (1ull << 30) + 1 },
		{ "16777215T", UINT64_MAX - (1ull << 40) + 1 },
		{ "18014398509481983K", UINT64_MAX - 1023 },
	};

	(void)state;
	check_sizes(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_size_overflow(void **state)
{
	static const char *const too_big[] = {
		"18446744073709551616",        /* UINT64_MAX + 1 */
		"99999999999999999999999999",
		"17179869184G",                /* 2^34 * 2^30 = 2^64 */
		"17179869184GiB",
		"16777216T",                   /* 2^24 * 2^40 */
		"18014398509481984K",          /* 2^54 * 2^10 */
		"17592186044416M",             /* 2^44 * 2^20 */
		"18446744073709551615K",
	};

	(void)state;
	check_size_errors(too_big, sizeof(too_big) / sizeof(too_big[0]),
			  -ERANGE);
}

static void test_parse_size_garbage(void **state)
{
	static const char *const garbage[] = {
		"",     "-1",   "-0",   "+1",   " 1",   "1 ",   "1 K",
		"K",    "KiB",  "1KK",  "1Ki",  "1iB",  "1KBB", "1KiBB",
		"1.5G", "0x10", "1e3",  "1P",   "1E",   "1G\n", "12abc",
		"1bK",  "1Bi",
	};

	(void)state;
	check_size_errors(garbage, sizeof(garbage) / sizeof(garbage[0]),
			  -EINVAL);
}

/* ---- mr_config_load --------------------------------------------------- */

/* The fake environment: "NAME=value" strings, NULL-terminated. */
static const char *const *fake_env;
static unsigned int lookups;

static const char *fake_lookup(const char *name)
{
	size_t len = strlen(name);

	lookups++;
	for (const char *const *e = fake_env; e && *e; e++) {
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	}
	return NULL;
}

/*
 * Load from env with a pipe as the warning fd; the warnings land in
 * warnings (NUL-terminated). Returns mr_config_load()'s result.
 */
static int load(const char *const *env, struct mr_config *cfg,
		char *warnings, size_t cap)
{
	int pipefd[2];
	size_t len = 0;
	ssize_t n;
	int bad;

	assert_int_equal(pipe(pipefd), 0);
	fake_env = env;
	lookups = 0;
	bad = mr_config_load(cfg, fake_lookup, pipefd[1]);
	close(pipefd[1]);
	while (len + 1 < cap &&
	       (n = read(pipefd[0], warnings + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	warnings[len] = '\0';
	close(pipefd[0]);
	/* Every option must have been asked for exactly once. */
	assert_int_equal(lookups, mr_option_count);
	return bad;
}

static unsigned int count_lines(const char *text)
{
	unsigned int lines = 0;

	for (; *text; text++)
		lines += *text == '\n';
	return lines;
}

static void test_config_defaults_when_unset(void **state)
{
	static const char *const env[] = { NULL };
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	/* Garbage first: the defaults must be written, not assumed. */
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_string_equal(warnings, "");
	assert_false(cfg.disable);
	assert_false(cfg.stats);
	assert_int_equal(cfg.max_size, 0);
}

static void test_config_empty_value_is_unset(void **state)
{
	static const char *const env[] = { "MMAPREAD_STATS=",
					   "MMAPREAD_MAX_SIZE=", NULL };
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_string_equal(warnings, "");
	assert_false(cfg.stats);
	assert_int_equal(cfg.max_size, 0);
}

static void test_config_valid_values(void **state)
{
	static const char *const env[] = { "MMAPREAD_DISABLE=YES",
					   "MMAPREAD_STATS=on",
					   "MMAPREAD_MAX_SIZE=64MiB", NULL };
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_string_equal(warnings, "");
	assert_true(cfg.disable);
	assert_true(cfg.stats);
	assert_int_equal(cfg.max_size, 64ull << 20);
}

static void test_config_bad_value_warns_once(void **state)
{
	static const char *const env[] = { "MMAPREAD_DISABLE=1",
					   "MMAPREAD_STATS=maybe",
					   "MMAPREAD_MAX_SIZE=2G", NULL };
	static const char prefix[] = "mmapread: MMAPREAD_STATS";
	struct mr_config cfg;
	char warnings[1024];
	size_t len;

	(void)state;
	/* A stale true must not survive: the default (false) wins. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.stats = true;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 1);
	assert_false(cfg.stats);
	/* The good values around it still apply. */
	assert_true(cfg.disable);
	assert_int_equal(cfg.max_size, 2ull << 30);

	len = strlen(warnings);
	assert_true(len > sizeof(prefix));
	assert_memory_equal(warnings, prefix, sizeof(prefix) - 1);
	assert_int_equal(warnings[len - 1], '\n');
	assert_int_equal(count_lines(warnings), 1);
	assert_non_null(strstr(warnings, "maybe"));
}

static void test_config_every_bad_value_counted(void **state)
{
	static const char *const env[] = { "MMAPREAD_DISABLE=2",
					   "MMAPREAD_STATS=",
					   "MMAPREAD_MAX_SIZE=-5", NULL };
	/* A bad value of each option's type, for every option. */
	static char bad[32][MR_PATH_MAX + 64];
	static const char *env_all[33];
	struct mr_config cfg;
	char warnings[8192];
	const char *line;

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 2);
	assert_int_equal(count_lines(warnings), 2);
	assert_false(cfg.disable);
	assert_int_equal(cfg.max_size, 0);

	assert_true(mr_option_count < 32);
	for (size_t i = 0; i < mr_option_count; i++) {
		const struct mr_option *opt = &mr_options[i];
		int len = snprintf(bad[i], sizeof(bad[i]), "%s=", opt->name);

		switch (opt->type) {
		case MR_OPT_BOOL:
			strcat(bad[i], "sure");
			break;
		case MR_OPT_SIZE:
			strcat(bad[i], "1P");
			break;
		case MR_OPT_COUNT:
			strcat(bad[i], "4K");
			break;
		case MR_OPT_CHOICE:
			strcat(bad[i], "none-of-them");
			break;
		case MR_OPT_TRACE:
			strcat(bad[i], "map,,read");
			break;
		case MR_OPT_PATH:
			/* One byte too long. */
			memset(bad[i] + len, 'x', MR_PATH_MAX);
			bad[i][len + MR_PATH_MAX] = '\0';
			break;
		}
		env_all[i] = bad[i];
	}
	env_all[mr_option_count] = NULL;
	assert_int_equal(load(env_all, &cfg, warnings, sizeof(warnings)),
			 mr_option_count);
	assert_int_equal(count_lines(warnings), mr_option_count);
	assert_string_equal(cfg.stats_file, "");
	/* One line per option, each naming it right after the prefix. */
	line = warnings;
	for (size_t i = 0; i < mr_option_count; i++) {
		char want[128];

		snprintf(want, sizeof(want), "mmapread: %s=",
			 mr_options[i].name);
		assert_non_null(strstr(warnings, want));
		assert_true(strncmp(line, "mmapread: ", 10) == 0);
		line = strchr(line, '\n') + 1;
	}
	assert_int_equal(*line, '\0');
}

static void test_parse_count(void **state)
{
	static const char *const bad[] = { "", "-1", "1K", "12 ", " 12",
					   "0x10", "1.5", "abc" };
	uint64_t value = 7;

	(void)state;
	assert_int_equal(mr_parse_count("0", &value), 0);
	assert_int_equal(value, 0);
	assert_int_equal(mr_parse_count("48", &value), 0);
	assert_int_equal(value, 48);
	assert_int_equal(mr_parse_count("4294967295", &value), 0);
	assert_int_equal(value, 4294967295u);
	assert_int_equal(mr_parse_count("4294967296", &value), -ERANGE);
	assert_int_equal(mr_parse_count("99999999999999999999999", &value),
			 -ERANGE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		value = 7;
		assert_int_equal(mr_parse_count(bad[i], &value), -EINVAL);
		assert_int_equal(value, 7);
	}
}

static void test_config_overflow_warns(void **state)
{
	static const char *const env[] = {
		"MMAPREAD_MAX_SIZE=18446744073709551616", NULL
	};
	static const char prefix[] = "mmapread: MMAPREAD_MAX_SIZE";
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 1);
	assert_int_equal(cfg.max_size, 0);
	assert_memory_equal(warnings, prefix, sizeof(prefix) - 1);
	assert_int_equal(count_lines(warnings), 1);
}

static void test_config_long_value_one_line(void **state)
{
	static char value[4096 + sizeof("MMAPREAD_STATS=")];
	const char *env[] = { value, NULL };
	struct mr_config cfg;
	char warnings[8192];
	size_t len;

	(void)state;
	/* A value far longer than any line buffer: still one whole line,
	 * newline included, never a torn one. */
	strcpy(value, "MMAPREAD_STATS=");
	memset(value + strlen(value), 'x', 4096);
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 1);
	len = strlen(warnings);
	assert_true(len > 0 && len < 1024);
	assert_int_equal(warnings[len - 1], '\n');
	assert_int_equal(count_lines(warnings), 1);
	assert_true(strncmp(warnings, "mmapread: MMAPREAD_STATS", 24) == 0);
}

/*
 * A value may hold a newline (MMAPREAD_STATS=$'1\n' from a script). The
 * warning must still be the one line mr_config.h promises, all of it
 * prefixed, so that nothing that looks like a second message of ours (or
 * anyone's) reaches stderr.
 */
static void test_config_bad_value_newline_one_line(void **state)
{
	static const char *const env[] = {
		"MMAPREAD_STATS=1\nmmapread: all good", NULL
	};
	struct mr_config cfg;
	char warnings[1024];
	size_t len;

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 1);
	assert_false(cfg.stats);
	print_message("warning: %s", warnings);
	len = strlen(warnings);
	assert_true(len > 0);
	assert_int_equal(warnings[len - 1], '\n');
	assert_int_equal(count_lines(warnings), 1);
}

static void test_config_no_warn_fd(void **state)
{
	static const char *const env[] = { "MMAPREAD_STATS=maybe",
					   "MMAPREAD_DISABLE=on", NULL };
	struct mr_config cfg;

	(void)state;
	fake_env = env;
	lookups = 0;
	assert_int_equal(mr_config_load(&cfg, fake_lookup, -1), 1);
	assert_false(cfg.stats);
	assert_true(cfg.disable);
}

/* ---- the option table ------------------------------------------------- */

static void test_options_table(void **state)
{
	(void)state;
	assert_true(mr_option_count > 0);
	for (size_t i = 0; i < mr_option_count; i++) {
		const struct mr_option *opt = &mr_options[i];
		int err;

		assert_non_null(opt->name);
		print_message("option %s\n", opt->name);
		assert_true(strncmp(opt->name, "MMAPREAD_", 9) == 0);
		assert_true(strlen(opt->name) > 9);
		assert_non_null(opt->help);
		assert_true(strlen(opt->help) > 0);
		assert_non_null(opt->default_text);
		if (opt->type == MR_OPT_BOOL) {
			bool value;

			err = mr_parse_bool(opt->default_text, &value);
			assert_true(opt->field + sizeof(bool) <=
				    sizeof(struct mr_config));
		} else if (opt->type == MR_OPT_PATH) {
			err = strlen(opt->default_text) < MR_PATH_MAX ? 0 : -1;
			assert_true(opt->field + MR_PATH_MAX <=
				    sizeof(struct mr_config));
		} else if (opt->type == MR_OPT_TRACE) {
			uint32_t mask = 0;

			err = *opt->default_text
				      ? mr_parse_trace(opt->default_text, &mask)
				      : 0;
		} else if (opt->type == MR_OPT_CHOICE) {
			uint64_t index;

			assert_non_null(opt->choices);
			err = mr_parse_choice(opt->default_text, opt->choices,
					      &index);
		} else {
			uint64_t value;

			assert_true(opt->type == MR_OPT_SIZE ||
				    opt->type == MR_OPT_COUNT);
			err = opt->type == MR_OPT_SIZE
				      ? mr_parse_size(opt->default_text, &value)
				      : mr_parse_count(opt->default_text,
						       &value);
			assert_true(opt->field + sizeof(uint64_t) <=
				    sizeof(struct mr_config));
		}
		assert_int_equal(err, 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(mr_options[j].name, opt->name);
	}
}

/* What mr_config_load() stores with nothing set is each parsed default. */
static void test_options_defaults_loaded(void **state)
{
	static const char *const env[] = { NULL };
	struct mr_config cfg;
	char warnings[64];

	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg));
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	for (size_t i = 0; i < mr_option_count; i++) {
		const struct mr_option *opt = &mr_options[i];
		const char *field = (const char *)&cfg + opt->field;

		if (opt->type == MR_OPT_BOOL) {
			bool want, got;

			assert_int_equal(mr_parse_bool(opt->default_text,
						       &want), 0);
			memcpy(&got, field, sizeof(got));
			assert_int_equal(got, want);
		} else if (opt->type == MR_OPT_PATH) {
			assert_string_equal(field, opt->default_text);
		} else if (opt->type == MR_OPT_CHOICE) {
			uint64_t want, got;

			assert_int_equal(mr_parse_choice(opt->default_text,
							 opt->choices, &want),
					 0);
			memcpy(&got, field, sizeof(got));
			assert_int_equal(got, want);
		} else if (opt->type == MR_OPT_TRACE) {
			uint64_t got;

			memcpy(&got, field, sizeof(got));
			assert_int_equal(got, 0);
		} else if (opt->type == MR_OPT_COUNT) {
			uint64_t want, got;

			assert_int_equal(mr_parse_count(opt->default_text,
							&want), 0);
			memcpy(&got, field, sizeof(got));
			assert_int_equal(got, want);
		} else {
			uint64_t want, got;

			assert_int_equal(mr_parse_size(opt->default_text,
						       &want), 0);
			memcpy(&got, field, sizeof(got));
			assert_int_equal(got, want);
		}
	}
}

/* A path is taken as it is, up to MR_PATH_MAX - 1 bytes. */
static void test_config_path_value(void **state)
{
	static char longest[20 + MR_PATH_MAX];
	static const char *env[] = { longest, NULL };
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	memset(longest, 'y', sizeof(longest) - 1);
	memcpy(longest, "MMAPREAD_STATS_FILE=", 20);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_string_equal(warnings, "");
	assert_int_equal(strlen(cfg.stats_file), MR_PATH_MAX - 1);
	assert_string_equal(cfg.stats_file, longest + 20);
}

/*
 * A setuid/setgid process drops the report file its environment names,
 * saying so in one line; an ordinary process keeps it.
 */
static void test_config_secure_drops_report_file(void **state)
{
	static const char *const env[] = {
		"MMAPREAD_STATS_FILE=/tmp/report.%p", "MMAPREAD_STATS=1", NULL
	};
	struct mr_config cfg;
	char warnings[1024];
	int pipefd[2];
	ssize_t n;

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_int_equal(mr_config_secure(&cfg, false, -1), 0);
	assert_string_equal(cfg.stats_file, "/tmp/report.%p");

	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(mr_config_secure(&cfg, true, pipefd[1]), 1);
	close(pipefd[1]);
	n = read(pipefd[0], warnings, sizeof(warnings) - 1);
	close(pipefd[0]);
	assert_true(n > 0);
	warnings[n] = '\0';
	assert_string_equal(cfg.stats_file, "");
	/* The report to stderr is not a file the environment names. */
	assert_true(cfg.stats);
	assert_int_equal(count_lines(warnings), 1);
	assert_non_null(strstr(warnings, "MMAPREAD_STATS_FILE"));
	assert_int_equal(mr_config_secure(&cfg, true, -1), 0);
}

static void test_parse_choice(void **state)
{
	uint64_t index = 99;

	(void)state;
	assert_int_equal(mr_parse_choice("text", "text|json", &index), 0);
	assert_int_equal(index, 0);
	assert_int_equal(mr_parse_choice("JSON", "text|json", &index), 0);
	assert_int_equal(index, 1);
	assert_int_equal(mr_parse_choice("jso", "text|json", &index), -EINVAL);
	assert_int_equal(mr_parse_choice("xml", "text|json", &index), -EINVAL);
	assert_int_equal(mr_parse_choice("", "text|json", &index), -EINVAL);
	assert_int_equal(mr_parse_choice("text|json", "text|json", &index),
			 -EINVAL);
	assert_int_equal(index, 1);
}

static void test_config_bad_choice_warns(void **state)
{
	static const char *const env[] = { "MMAPREAD_STATS_FORMAT=xml", NULL };
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 1);
	assert_int_equal(cfg.stats_format, MR_FORMAT_TEXT);
	assert_int_equal(count_lines(warnings), 1);
	assert_non_null(strstr(warnings, "MMAPREAD_STATS_FORMAT='xml'"));
	assert_non_null(strstr(warnings, "one of text|json"));
}

static void test_path_rules(void **state)
{
	static const char *const env[] = {
		"MMAPREAD_INCLUDE=/data/*:*.db",
		"MMAPREAD_EXCLUDE=/data/tmp/*", NULL
	};
	struct mr_config cfg;
	char warnings[1024];

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_true(mr_config_path_allowed(&cfg, "/data/a/b"));
	assert_true(mr_config_path_allowed(&cfg, "/srv/x.db"));
	assert_false(mr_config_path_allowed(&cfg, "/srv/x.txt"));
	assert_false(mr_config_path_allowed(&cfg, "/data/tmp/f"));
	cfg.include[0] = '\0';
	assert_true(mr_config_path_allowed(&cfg, "/srv/x.txt"));
	assert_false(mr_config_path_allowed(&cfg, "/data/tmp/f"));
	cfg.exclude[0] = '\0';
	assert_true(mr_config_path_allowed(&cfg, "/data/tmp/f"));
}

/* One line per option, with its current value and its default. */
static void test_config_print(void **state)
{
	static const char *const env[] = { "MMAPREAD_STATS_FORMAT=json",
					   "MMAPREAD_TOP=3", NULL };
	struct mr_config cfg;
	char warnings[1024], printed[8192];
	int pipefd[2];
	size_t len = 0;
	ssize_t n;

	(void)state;
	assert_int_equal(load(env, &cfg, warnings, sizeof(warnings)), 0);
	assert_int_equal(pipe(pipefd), 0);
	mr_config_print(&cfg, pipefd[1]);
	close(pipefd[1]);
	while ((n = read(pipefd[0], printed + len,
			 sizeof(printed) - 1 - len)) > 0)
		len += (size_t)n;
	close(pipefd[0]);
	printed[len] = '\0';
	assert_int_equal(count_lines(printed), mr_option_count);
	assert_non_null(strstr(printed,
			       "mmapread: MMAPREAD_STATS_FORMAT=json (default "
			       "text) "));
	assert_non_null(strstr(printed, "mmapread: MMAPREAD_TOP=3 (default "
					"10) "));
	assert_non_null(strstr(printed, "mmapread: MMAPREAD_STATS=0 (default "
					"0) "));
	assert_non_null(strstr(printed, "mmapread: MMAPREAD_STATS_FILE= "
					"(default (unset)) "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_bool_accepts),
		cmocka_unit_test(test_parse_bool_rejects),
		cmocka_unit_test(test_parse_size_plain),
		cmocka_unit_test(test_parse_size_suffixes),
		cmocka_unit_test(test_parse_size_overflow),
		cmocka_unit_test(test_parse_size_garbage),
		cmocka_unit_test(test_config_defaults_when_unset),
		cmocka_unit_test(test_config_empty_value_is_unset),
		cmocka_unit_test(test_config_valid_values),
		cmocka_unit_test(test_config_bad_value_warns_once),
		cmocka_unit_test(test_config_every_bad_value_counted),
		cmocka_unit_test(test_parse_count),
		cmocka_unit_test(test_config_overflow_warns),
		cmocka_unit_test(test_config_long_value_one_line),
		cmocka_unit_test(test_config_bad_value_newline_one_line),
		cmocka_unit_test(test_config_no_warn_fd),
		cmocka_unit_test(test_options_table),
		cmocka_unit_test(test_options_defaults_loaded),
		cmocka_unit_test(test_config_path_value),
		cmocka_unit_test(test_config_secure_drops_report_file),
		cmocka_unit_test(test_parse_choice),
		cmocka_unit_test(test_config_bad_choice_warns),
		cmocka_unit_test(test_path_rules),
		cmocka_unit_test(test_config_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
