/*
 * fuzz_config: random strings against the configuration parsers and
 * random environments against mr_config_load().
 *
 *   fuzz-config [SEED [ITERATIONS]]
 *
 * The unit tests list the cases someone thought of; here every parser
 * meets strings made of the characters it cares about (digits, suffixes,
 * case, separators) mixed with arbitrary bytes, and is held to:
 *  - no crash, and only the documented errors (-EINVAL, -ERANGE);
 *  - mr_parse_size() and mr_parse_count() agree with a reference parser
 *    written here from the grammar in mr_config.h, value and error alike;
 *  - accepted values round-trip: a number printed (with any suffix, any
 *    leading zeros) parses back to the same number, or to -ERANGE exactly
 *    when it does not fit; a boolean or choice word in any case is found;
 *  - mr_config_load() returns the number of bad values and writes exactly
 *    one line per bad value, naming the variable, in table order, without
 *    control bytes; good values land in the field, bad ones leave the
 *    default. Every check prints the seed and iteration that broke it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mr_config.h"
#include "mr_trace.h"

static uint64_t rng_state;
static uint64_t seed;
static uint64_t iteration;
static const char *phase;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "FAIL %s seed %" PRIu64             \
				" iteration %" PRIu64 ": %s: ", phase,      \
				seed, iteration, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			exit(1);                                            \
		}                                                           \
	} while (0)

/*
 * A string of up to cap - 1 bytes, mostly from alphabet, sometimes any
 * byte but NUL, sometimes a long run of digits (to overflow).
 */
static void random_text(char *out, size_t cap, const char *alphabet)
{
	size_t len = below(4) == 0 ? below(cap) : below(14);
	size_t alen = strlen(alphabet);

	if (below(8) == 0)
		len = 18 + below(8);
	if (len >= cap)
		len = cap - 1;
	for (size_t i = 0; i < len; i++) {
		if (below(10) == 0)
			out[i] = (char)(1 + below(255));
		else
			out[i] = alphabet[below(alen)];
	}
	out[len] = '\0';
}

/* Flip the case of letters at random. */
static void mix_case(char *s)
{
	for (; *s; s++)
		if (below(2))
			*s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 :
				    *s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
}

/*
 * The size grammar of mr_config.h, independently: digits, then K/M/G/T
 * (any case) optionally followed by "iB", or a lone "B" (any case). Too
 * many digits for 64 bits is -ERANGE whatever follows them, as the
 * library reports the first problem it meets.
 */
static int ref_size(const char *t, uint64_t *out)
{
	static const char units[] = "kmgt";
	uint64_t v = 0, scale = 1;
	size_t i = 0;
	const char *u;

	if (t[0] < '0' || t[0] > '9')
		return -EINVAL;
	for (; t[i] >= '0' && t[i] <= '9'; i++) {
		unsigned __int128 w = (unsigned __int128)v * 10 + (t[i] - '0');

		if (w > UINT64_MAX)
			return -ERANGE;
		v = (uint64_t)w;
	}
	u = t[i] ? strchr(units, t[i] | 0x20) : NULL;
	if (u) {
		scale = 1ull << (10 * (u - units + 1));
		i++;
		if ((t[i] | 0x20) == 'i' && (t[i + 1] | 0x20) == 'b')
			i += 2;
		else if ((t[i] | 0x20) == 'b')
			i++;
	} else if ((t[i] | 0x20) == 'b') {
		i++;
	}
	if (t[i])
		return -EINVAL;
	if ((unsigned __int128)v * scale > UINT64_MAX)
		return -ERANGE;
	*out = v * scale;
	return 0;
}

/* A plain count: decimal digits only, at most 2^32 - 1. */
static int ref_count(const char *t, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (t[0] < '0' || t[0] > '9')
		return -EINVAL;
	for (; t[i] >= '0' && t[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(t[i] - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	if (t[i])
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *const bool_words[] = { "1", "0", "yes", "no", "on",
					  "off", "true", "false" };

static void fuzz_bool(void)
{
	char text[64];
	bool value = below(2), want;
	int r, known = -1;

	if (below(2)) {
		size_t w = below(8);

		strcpy(text, bool_words[w]);
		mix_case(text);
		known = (int)w;
	} else {
		random_text(text, sizeof(text), "01yesnoftruealYESNOFTRUEAL ");
	}
	r = mr_parse_bool(text, &value);
	for (size_t w = 0; known < 0 && w < 8; w++)
		if (strcasecmp(text, bool_words[w]) == 0)
			known = (int)w;
	if (known < 0) {
		CHECK(r == -EINVAL, "'%s' gave %d", text, r);
		return;
	}
	want = known % 2 == 0;
	CHECK(r == 0 && value == want, "'%s' gave %d value %d", text, r,
	      value);
}

static void fuzz_size(void)
{
	static const char *const units[] = { "", "K", "m", "G", "t" };
	static const char *const tails[] = { "", "B", "iB", "ib", "b" };
	char text[64];
	uint64_t value = 12345, want = 0;
	int r, ref;

	if (below(2)) {
		random_text(text, sizeof(text), "0123456789kKmMgGtTiIbB");
		ref = ref_size(text, &want);
	} else {
		/* A number printed, with leading zeros, unit and tail. */
		uint64_t v = rnd() >> below(64);
		size_t u = below(5), t = below(5);
		unsigned __int128 full;

		if (u == 0 && t >= 2)
			t = 1;
		snprintf(text, sizeof(text), "%.*s%" PRIu64 "%s%s",
			 (int)below(4), "000", v, units[u], tails[t]);
		full = (unsigned __int128)v << (10 * u);
		ref = full > UINT64_MAX ? -ERANGE : 0;
		want = (uint64_t)full;
		CHECK(ref_size(text, &value) == ref && (ref || value == want),
		      "the reference parser disagrees on '%s'", text);
		value = 12345;
	}
	r = mr_parse_size(text, &value);
	CHECK(r == ref, "'%s' gave %d, expected %d", text, r, ref);
	CHECK(r != 0 || value == want, "'%s' gave %" PRIu64 ", expected %"
	      PRIu64, text, value, want);
	CHECK(r == 0 || value == 12345, "'%s' failed but stored %" PRIu64,
	      text, value);
}

static void fuzz_count(void)
{
	char text[64];
	uint64_t value = 777, want = 0;
	int r, ref;

	if (below(2)) {
		random_text(text, sizeof(text), "0123456789 -+x");
		ref = ref_count(text, &want);
	} else {
		/* A shift of 28 to 63 (64 would be undefined): 0 to 2^36. */
		uint64_t v = rnd() >> (28 + below(36));

		snprintf(text, sizeof(text), "%.*s%" PRIu64, (int)below(4),
			 "000", v);
		ref = v > UINT32_MAX ? -ERANGE : 0;
		want = v;
	}
	r = mr_parse_count(text, &value);
	CHECK(r == ref, "'%s' gave %d, expected %d", text, r, ref);
	CHECK(r != 0 || value == want, "'%s' gave %" PRIu64, text, value);
	CHECK(r == 0 || value == 777, "'%s' failed but stored %" PRIu64,
	      text, value);
}

static void fuzz_choice(void)
{
	char words[6][8], choices[64] = "", text[64];
	size_t n = 1 + below(5), off = 0;
	uint64_t index = 99;
	int r, want = -1;

	for (size_t w = 0; w < n; w++) {
		random_text(words[w], 1 + below(7), "abcxyzABC|");
		/* '|' separates: keep it out of the words themselves; the
		 * table has no empty choice either. */
		for (char *p = words[w]; *p; p++)
			if (*p == '|')
				*p = 'q';
		if (!words[w][0])
			strcpy(words[w], "z");
		off += (size_t)snprintf(choices + off, sizeof(choices) - off,
					"%s%s", w ? "|" : "", words[w]);
	}
	if (below(2)) {
		strcpy(text, words[below(n)]);
		mix_case(text);
	} else {
		random_text(text, 8, "abcxyzABC|q");
	}
	for (size_t w = 0; want < 0 && w < n; w++)
		if (strcasecmp(words[w], text) == 0)
			want = (int)w;
	r = mr_parse_choice(text, choices, &index);
	if (want < 0) {
		CHECK(r == -EINVAL && index == 99, "'%s' in '%s' gave %d",
		      text, choices, r);
		return;
	}
	CHECK(r == 0 && index == (uint64_t)want,
	      "'%s' in '%s' gave %d index %" PRIu64 ", expected %d", text,
	      choices, r, index, want);
}

/* ---- mr_config_load ----------------------------------------------- */

static char env_values[64][MR_PATH_MAX + 64];
static const char *env_set[64];

static const char *fake_lookup(const char *name)
{
	for (size_t i = 0; i < mr_option_count; i++)
		if (strcmp(mr_options[i].name, name) == 0)
			return env_set[i];
	return NULL;
}

/* A value that is valid (mostly) or not for opt, into out. */
static void value_for(const struct mr_option *opt, char *out, size_t cap)
{
	bool junk = below(3) == 0;

	switch (opt->type) {
	case MR_OPT_BOOL:
		if (junk)
			random_text(out, 16, "01yesnoYESNO");
		else
			snprintf(out, cap, "%s", bool_words[below(8)]);
		break;
	case MR_OPT_SIZE:
		random_text(out, 24, junk ? "0123456789kKmMgGtTiIbB" :
			    "0123456789");
		break;
	case MR_OPT_COUNT:
		random_text(out, 16, junk ? "0123456789 x" : "0123456789");
		break;
	case MR_OPT_CHOICE:
		if (junk) {
			random_text(out, 12, "textjsonTEXTJSON|");
		} else {
			size_t w = below(2) ? strcspn(opt->choices, "|") : 0;
			const char *p = w ? opt->choices + w + 1 :
				opt->choices;

			snprintf(out, cap, "%.*s", (int)strcspn(p, "|"), p);
			mix_case(out);
		}
		break;
	case MR_OPT_TRACE:
		random_text(out, 20, junk ? "mapsigbusreadfallbackall, \t" :
			    "map,read");
		break;
	case MR_OPT_PATH: {
		/* Around the length limit as often as not. */
		size_t len = below(2) ? below(64) :
			MR_PATH_MAX - 2 + below(4);

		if (len >= cap)
			len = cap - 1;
		for (size_t i = 0; i < len; i++)
			out[i] = (char)(below(16) ? 'a' + below(26) :
					1 + below(255));
		out[len] = '\0';
		break;
	}
	}
}

/* Parse text for opt as the library would store it: 0 or -errno. */
static int expected_store(const struct mr_option *opt, const char *text,
			  uint64_t *num, bool *flag)
{
	uint32_t mask = 0;
	int r;

	switch (opt->type) {
	case MR_OPT_BOOL:
		return mr_parse_bool(text, flag);
	case MR_OPT_SIZE:
		return mr_parse_size(text, num);
	case MR_OPT_COUNT:
		return mr_parse_count(text, num);
	case MR_OPT_CHOICE:
		return mr_parse_choice(text, opt->choices, num);
	case MR_OPT_TRACE:
		r = *text ? mr_parse_trace(text, &mask) : 0;
		*num = mask;
		return r;
	case MR_OPT_PATH:
		return strlen(text) >= MR_PATH_MAX ? -ENAMETOOLONG : 0;
	}
	return -EINVAL;
}

static void check_field(const struct mr_option *opt,
			const struct mr_config *cfg, const char *text,
			uint64_t num, bool flag)
{
	const char *field = (const char *)cfg + opt->field;
	uint64_t got;

	switch (opt->type) {
	case MR_OPT_BOOL:
		CHECK(*(const bool *)field == flag, "%s='%s'", opt->name,
		      text);
		break;
	case MR_OPT_PATH:
		CHECK(strcmp(field, text) == 0, "%s='%.40s...'", opt->name,
		      text);
		break;
	default:
		memcpy(&got, field, sizeof(got));
		CHECK(got == num, "%s='%s' stored %" PRIu64 ", expected %"
		      PRIu64, opt->name, text, got, num);
		break;
	}
}

static void fuzz_load(int devnull)
{
	static char warnings[1 << 16];
	struct mr_config cfg;
	int pipefd[2], bad = 0, r;
	size_t len = 0;
	ssize_t n;
	char *line;

	CHECK(mr_option_count <= 64, "%zu options", mr_option_count);
	for (size_t i = 0; i < mr_option_count; i++) {
		env_set[i] = NULL;
		if (below(3) == 0)
			continue;
		if (below(10) == 0)
			env_values[i][0] = '\0';
		else
			value_for(&mr_options[i], env_values[i],
				  sizeof(env_values[i]));
		env_set[i] = env_values[i];
	}
	CHECK(pipe(pipefd) == 0, "pipe");
	/* Far below the pipe's 64 KiB: one short line per option. */
	r = mr_config_load(&cfg, fake_lookup, pipefd[1]);
	close(pipefd[1]);
	while (len + 1 < sizeof(warnings) &&
	       (n = read(pipefd[0], warnings + len,
			 sizeof(warnings) - 1 - len)) > 0)
		len += (size_t)n;
	warnings[len] = '\0';
	close(pipefd[0]);

	line = warnings;
	for (size_t i = 0; i < mr_option_count; i++) {
		const struct mr_option *opt = &mr_options[i];
		const char *text = env_set[i];
		uint64_t num = 0;
		bool flag = false;
		char prefix[64];
		char *end;

		if (text && *text &&
		    expected_store(opt, text, &num, &flag) != 0) {
			bad++;
			snprintf(prefix, sizeof(prefix), "mmapread: %s='",
				 opt->name);
			CHECK(strncmp(line, prefix, strlen(prefix)) == 0,
			      "warning for %s missing or out of order: '%s'",
			      opt->name, line);
			end = strchr(line, '\n');
			CHECK(end, "warning for %s without a newline",
			      opt->name);
			for (char *p = line; p < end; p++)
				CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
				      "control byte in the warning for %s",
				      opt->name);
			line = end + 1;
			text = opt->default_text;
		} else if (!text || !*text) {
			text = opt->default_text;
		}
		CHECK(expected_store(opt, text, &num, &flag) == 0,
		      "%s's default '%s' does not parse", opt->name, text);
		check_field(opt, &cfg, text, num, flag);
	}
	CHECK(*line == '\0', "more warnings than bad values: '%s'", line);
	CHECK(r == bad, "mr_config_load() said %d bad values, %d expected",
	      r, bad);
	/* The print of whatever was loaded must not crash either. */
	mr_config_print(&cfg, devnull);
}

int main(int argc, char **argv)
{
	uint64_t iterations = 100000;
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	if (argc > 2)
		iterations = strtoull(argv[2], NULL, 0);
	rng_state = seed;
	if (devnull < 0) {
		perror("/dev/null");
		return 1;
	}
	for (iteration = 0; iteration < iterations; iteration++) {
		phase = "bool";
		fuzz_bool();
		phase = "size";
		fuzz_size();
		phase = "count";
		fuzz_count();
		phase = "choice";
		fuzz_choice();
		if (iteration % 10 == 0) {
			phase = "load";
			fuzz_load(devnull);
		}
	}
	printf("fuzz-config: seed %" PRIu64 ", %" PRIu64
	       " iterations of each parser, %" PRIu64 " loads: ok\n", seed,
	       iterations, (iterations + 9) / 10);
	return 0;
}
