/*
 * Configuration from MMAPREAD_* variables (the table is the documentation:
 * README.md's list is checked against it by a test).
 */
#include "mr_config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>

#include "mr_real.h"
#include "mr_trace.h"

const struct mr_option mr_options[] = {
	{ "MMAPREAD_DISABLE", MR_OPT_BOOL, offsetof(struct mr_config, disable),
	  "0", "load but serve nothing: every call goes to the kernel", NULL },
	{ "MMAPREAD_STATS", MR_OPT_BOOL, offsetof(struct mr_config, stats),
	  "0", "print the report to stderr at exit", NULL },
	{ "MMAPREAD_STATS_FILE", MR_OPT_PATH,
	  offsetof(struct mr_config, stats_file), "",
	  "write the report to this new file instead (%p: pid, %e: program; "
	  "never follows a symlink or overwrites a file)", NULL },
	{ "MMAPREAD_STATS_FORMAT", MR_OPT_CHOICE,
	  offsetof(struct mr_config, stats_format), "text",
	  "the report as an aligned table (text) or one JSON document (json)",
	  "text|json" },
	{ "MMAPREAD_TOP", MR_OPT_COUNT, offsetof(struct mr_config, top), "10",
	  "files listed in the report, most syscalls saved first", NULL },
	{ "MMAPREAD_TRACE", MR_OPT_TRACE, offsetof(struct mr_config, trace),
	  "", "record call stacks of these events: map, sigbus, read, "
	  "fallback or all (','-separated; needs libunwind)", NULL },
	{ "MMAPREAD_VERIFY", MR_OPT_BOOL, offsetof(struct mr_config, verify),
	  "0", "check every served read against a real pread and report "
	  "differences", NULL },
	{ "MMAPREAD_MAX_SIZE", MR_OPT_SIZE, offsetof(struct mr_config, max_size),
	  "0", "never map files larger than this (K/M/G/T); 0: no ceiling",
	  NULL },
	{ "MMAPREAD_MIN_SIZE", MR_OPT_SIZE, offsetof(struct mr_config, min_size),
	  "0", "never map files smaller than this (K/M/G/T)", NULL },
	{ "MMAPREAD_INCLUDE", MR_OPT_PATH, offsetof(struct mr_config, include),
	  "", "map only files whose path matches one of these ':'-separated "
	  "globs", NULL },
	{ "MMAPREAD_EXCLUDE", MR_OPT_PATH, offsetof(struct mr_config, exclude),
	  "", "never map files whose path matches one of these ':'-separated "
	  "globs", NULL },
	{ "MMAPREAD_MAP_AFTER", MR_OPT_COUNT,
	  offsetof(struct mr_config, map_after), "48",
	  "small reads of a file before mmapread considers mapping it", NULL },
	{ "MMAPREAD_STDIO", MR_OPT_BOOL, offsetof(struct mr_config, stdio),
	  "1", "serve stdio streams (fread, fgets, getline, getc...) opened "
	  "read-only by the program", NULL },
	{ "MMAPREAD_PRINT_CONFIG", MR_OPT_BOOL,
	  offsetof(struct mr_config, print_config), "0",
	  "print every setting to stderr when the library loads", NULL },
};
const size_t mr_option_count = sizeof(mr_options) / sizeof(mr_options[0]);

static struct mr_config config;
static atomic_int config_state; /* 0 unparsed, 1 parsing, 2 ready */

int mr_parse_bool(const char *text, bool *ret_value)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*ret_value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*ret_value = false;
			return 0;
		}
	}
	return -EINVAL;
}

int mr_parse_size(const char *text, uint64_t *ret_value)
{
	uint64_t value = 0, scale = 1;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(value, 10, &value) ||
		    __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
			return -ERANGE;
	}
	switch (*p) {
	case 'k': case 'K': scale = 1ull << 10; p++; break;
	case 'm': case 'M': scale = 1ull << 20; p++; break;
	case 'g': case 'G': scale = 1ull << 30; p++; break;
	case 't': case 'T': scale = 1ull << 40; p++; break;
	default: break;
	}
	if (scale > 1 && (*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B'))
		p += 2;
	else if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		return -EINVAL;
	if (__builtin_mul_overflow(value, scale, &value))
		return -ERANGE;
	*ret_value = value;
	return 0;
}

/* Parse text as opt's type into field: 0 or -errno, field untouched then. */
static int store(const struct mr_option *opt, char *field, const char *text)
{
	bool flag;
	uint64_t size;
	int err;

	if (opt->type == MR_OPT_PATH) {
		if (strlen(text) >= MR_PATH_MAX)
			return -ENAMETOOLONG;
		strcpy(field, text);
		return 0;
	}
	if (opt->type == MR_OPT_TRACE) {
		uint32_t mask = 0;

		err = *text ? mr_parse_trace(text, &mask) : 0;
		size = mask;
		if (!err)
			memcpy(field, &size, sizeof(size));
		return err;
	}
	if (opt->type == MR_OPT_CHOICE) {
		err = mr_parse_choice(text, opt->choices, &size);
		if (!err)
			memcpy(field, &size, sizeof(size));
		return err;
	}
	if (opt->type == MR_OPT_BOOL) {
		err = mr_parse_bool(text, &flag);
		if (!err)
			memcpy(field, &flag, sizeof(flag));
	} else {
		err = opt->type == MR_OPT_COUNT ? mr_parse_count(text, &size)
						: mr_parse_size(text, &size);
		if (!err)
			memcpy(field, &size, sizeof(size));
	}
	return err;
}

/* The value as it can be shown on one line: control bytes become '?'. */
static void printable(char *out, size_t cap, const char *value)
{
	size_t i;

	for (i = 0; i + 1 < cap && value[i]; i++)
		out[i] = (unsigned char)value[i] < 0x20 || value[i] == 0x7f
				 ? '?'
				 : value[i];
	out[i] = '\0';
}

int mr_parse_count(const char *text, uint64_t *ret_value)
{
	uint64_t value = 0;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		value = value * 10 + (uint64_t)(*p - '0');
		if (value > UINT32_MAX)
			return -ERANGE;
	}
	if (*p != '\0')
		return -EINVAL;
	*ret_value = value;
	return 0;
}

static void warn(int fd, const struct mr_option *opt, const char *value,
		 int err)
{
	char line[512], shown[65], one_of[128];
	const char *expected =
		opt->type == MR_OPT_CHOICE
			? (snprintf(one_of, sizeof(one_of), "one of %s",
				    opt->choices),
			   one_of)
		: opt->type == MR_OPT_BOOL
			? "a boolean (1/0, yes/no, on/off, true/false)"
		: opt->type == MR_OPT_COUNT
			? "a whole number"
		: opt->type == MR_OPT_PATH
			? "a path shorter than 1024 bytes"
		: opt->type == MR_OPT_TRACE
			? "','-separated events: map, sigbus, read, fallback, all"
			: "a size in bytes with an optional K/M/G/T suffix";
	int len;

	printable(shown, sizeof(shown), value);
	len = snprintf(line, sizeof(line),
			   "mmapread: %s='%s' is not valid: expected %s%s; "
			   "using the default %s\n",
			   opt->name, shown, expected,
			   err != -ERANGE	       ? ""
			   : opt->type == MR_OPT_COUNT ? " below 2^32"
						       : " that fits in 64 bits",
			   *opt->default_text ? opt->default_text
					      : "(unset)");

	if (fd >= 0 && len > 0)
		mr_sys_write(fd, line, (size_t)len < sizeof(line)
					       ? (size_t)len
					       : sizeof(line) - 1);
}

int mr_config_load(struct mr_config *cfg,
		   const char *(*lookup)(const char *name), int warn_fd)
{
	int bad = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < mr_option_count; i++) {
		const struct mr_option *opt = &mr_options[i];
		const char *text = lookup(opt->name);
		char *field = (char *)cfg + opt->field;
		int err;

		store(opt, field, opt->default_text);
		if (!text || !*text)
			continue;
		err = store(opt, field, text);
		if (err) {
			bad++;
			warn(warn_fd, opt, text, err);
		}
	}
	return bad;
}

int mr_parse_choice(const char *text, const char *choices,
		    uint64_t *ret_index)
{
	size_t len = strlen(text);
	uint64_t index = 0;

	for (const char *p = choices; *p; index++) {
		size_t word = strcspn(p, "|");

		if (word == len && strncasecmp(p, text, len) == 0) {
			*ret_index = index;
			return 0;
		}
		p += word;
		if (*p == '|')
			p++;
	}
	return -EINVAL;
}

/* Whether path matches one of the ':'-separated patterns. */
static bool matches_any(const char *patterns, const char *path)
{
	char pattern[MR_PATH_MAX];

	for (const char *p = patterns; *p;) {
		size_t len = strcspn(p, ":");

		if (len > 0 && len < sizeof(pattern)) {
			memcpy(pattern, p, len);
			pattern[len] = '\0';
			if (fnmatch(pattern, path, 0) == 0)
				return true;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return false;
}

bool mr_config_path_allowed(const struct mr_config *cfg, const char *path)
{
	if (cfg->include[0] && !matches_any(cfg->include, path))
		return false;
	return !(cfg->exclude[0] && matches_any(cfg->exclude, path));
}

/* The value of one option as text, the way the variable would spell it. */
static void show_value(const struct mr_option *opt, const char *field,
		       char *out, size_t cap)
{
	uint64_t number;
	bool flag;

	switch (opt->type) {
	case MR_OPT_BOOL:
		memcpy(&flag, field, sizeof(flag));
		snprintf(out, cap, "%d", flag);
		break;
	case MR_OPT_PATH:
		printable(out, cap, field);
		break;
	case MR_OPT_TRACE: {
		static const char *const kinds[] = { "map", "sigbus", "read",
						     "fallback" };
		size_t len = 0;

		memcpy(&number, field, sizeof(number));
		out[0] = '\0';
		for (unsigned int k = 0; k < 4 && len + 10 < cap; k++) {
			if (number & (1u << k))
				len += (size_t)snprintf(out + len, cap - len,
							"%s%s", len ? "," : "",
							kinds[k]);
		}
		break;
	}
	case MR_OPT_CHOICE: {
		const char *p = opt->choices;

		memcpy(&number, field, sizeof(number));
		for (; number && *p; number--) {
			p += strcspn(p, "|");
			if (*p == '|')
				p++;
		}
		snprintf(out, cap, "%.*s", (int)strcspn(p, "|"), p);
		break;
	}
	default:
		memcpy(&number, field, sizeof(number));
		snprintf(out, cap, "%llu", (unsigned long long)number);
		break;
	}
}

void mr_config_print(const struct mr_config *cfg, int fd)
{
	for (size_t i = 0; i < mr_option_count; i++) {
		const struct mr_option *opt = &mr_options[i];
		char value[MR_PATH_MAX], line[MR_PATH_MAX + 512];
		int len;

		show_value(opt, (const char *)cfg + opt->field, value,
			   sizeof(value));
		len = snprintf(line, sizeof(line),
			       "mmapread: %s=%s (default %s) %s\n", opt->name,
			       value,
			       *opt->default_text ? opt->default_text
						  : "(unset)",
			       opt->help);
		if (len > 0)
			mr_sys_write(fd, line,
				     (size_t)len < sizeof(line)
					     ? (size_t)len
					     : sizeof(line) - 1);
	}
}

int mr_config_secure(struct mr_config *cfg, bool secure, int warn_fd)
{
	static const char line[] =
		"mmapread: MMAPREAD_STATS_FILE is ignored in a setuid/setgid "
		"(secure-execution) process; no report file is written\n";

	if (!secure || !cfg->stats_file[0])
		return 0;
	cfg->stats_file[0] = '\0';
	if (warn_fd >= 0)
		mr_sys_write(warn_fd, line, sizeof(line) - 1);
	return 1;
}

static const char *env_lookup(const char *name)
{
	return getenv(name);
}

void mr_config_init(void)
{
	int expected = 0;
	struct mr_config parsed;

	if (!atomic_compare_exchange_strong(&config_state, &expected, 1))
		return;
	mr_config_load(&parsed, env_lookup, 2);
	mr_config_secure(&parsed, getauxval(AT_SECURE) != 0, 2);
	if (parsed.print_config)
		mr_config_print(&parsed, 2);
	config = parsed;
	atomic_store_explicit(&config_state, 2, memory_order_release);
}

const struct mr_config *mr_config(void)
{
	static const struct mr_config defaults;

	if (__builtin_expect(atomic_load_explicit(&config_state,
						  memory_order_acquire) == 2, 1))
		return &config;
	mr_config_init();
	/* Another thread may still be parsing: act on the defaults. */
	return atomic_load_explicit(&config_state, memory_order_acquire) == 2
		       ? &config
		       : &defaults;
}
