/*
 * libFuzzer target for the configuration parsers (scripts/fuzz-libfuzzer
 * builds it with clang -fsanitize=fuzzer,address,undefined; CI runs the
 * plain seeded loop in fuzz_config.c instead).
 *
 * The input is split at its first NUL into an option name index and a
 * value: the value goes through every parser and through mr_config_load()
 * as the value of that option. Any crash, sanitizer report or broken
 * invariant (a parser that accepts and then stores nothing, a warning that
 * is not one line) stops the fuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mr_config.h"
#include "mr_trace.h"

static char value[2048];
static const char *option;

static const char *lookup(const char *name)
{
	return option && strcmp(name, option) == 0 ? value : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mr_config cfg;
	uint64_t number;
	uint32_t mask;
	bool flag;
	int pipefd[2], bad;
	char warnings[8192];
	ssize_t n;

	if (size == 0 || size >= sizeof(value))
		return 0;
	option = mr_options[data[0] % mr_option_count].name;
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';

	if (mr_parse_bool(value, &flag) == 0 && flag != 0 && flag != 1)
		abort();
	mr_parse_size(value, &number);
	mr_parse_count(value, &number);
	mr_parse_choice(value, "text|json", &number);
	mr_parse_trace(value, &mask);

	if (pipe(pipefd) != 0)
		return 0;
	bad = mr_config_load(&cfg, lookup, pipefd[1]);
	close(pipefd[1]);
	n = read(pipefd[0], warnings, sizeof(warnings) - 1);
	close(pipefd[0]);
	/* One bad value: exactly one line; a good one: none. */
	if (bad == 1 && (n <= 0 || memchr(warnings, '\n', (size_t)n) !=
					   warnings + n - 1))
		abort();
	if (bad == 0 && n > 0)
		abort();
	if (bad > 1)
		abort();
	return 0;
}
