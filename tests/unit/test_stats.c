/*
 * Unit tests for the report: mr_stats_format() on hand-filled counters,
 * the fallback names, and the snapshot of the live counters.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mr_stats.h"

#define BIG 8192
/* The breakdown line under "syscalls added", as the caller writes it. */
#define DETAIL "(mmap 6, munmap 5, fstat 4)"

static struct mmapread_stats sample(void)
{
	struct mmapread_stats s;

	memset(&s, 0, sizeof(s));
	s.reads_served = 10;
	s.preads_served = 20;
	s.readvs_served = 3;
	s.lseeks_served = 7;
	s.syscalls_saved = 40;
	s.syscalls_added = 15;
	s.bytes_served = 1536;
	s.files_mapped = 2;
	s.bytes_mapped = 3u << 20;
	s.fallbacks[MMAPREAD_FB_WONT_PAY] = 4;
	s.fallbacks[MMAPREAD_FB_TOO_LARGE] = 2;
	return s;
}

/* The report for s as "prog", pid 1. */
static size_t format(char *buf, size_t cap, const struct mmapread_stats *s)
{
	return mr_stats_format(buf, cap, s, "prog", 1, DETAIL);
}

/* Copy line number n (from 0) of text into line; false past the end. */
static bool nth_line(const char *text, unsigned int n, char *line,
		     size_t cap)
{
	const char *end;

	for (; n; n--) {
		text = strchr(text, '\n');
		if (!text)
			return false;
		text++;
	}
	if (!*text)
		return false;
	end = strchr(text, '\n');
	if (!end)
		end = text + strlen(text);
	assert_true((size_t)(end - text) < cap);
	memcpy(line, text, (size_t)(end - text));
	line[end - text] = '\0';
	return true;
}

/* The only line containing needle, in line; false if there is none. */
static bool find_line(const char *text, const char *needle, char *line,
		      size_t cap)
{
	char candidate[512];
	bool found = false;

	for (unsigned int i = 0; nth_line(text, i, candidate,
					  sizeof(candidate)); i++) {
		if (!strstr(candidate, needle))
			continue;
		/* Two lines matching would make the test ambiguous. */
		assert_false(found);
		found = true;
		assert_true(strlen(candidate) < cap);
		strcpy(line, candidate);
	}
	return found;
}

/* The number a report line ends with. */
static long long last_number(const char *line)
{
	const char *p = line + strlen(line);

	while (p > line && (p[-1] == ' ' || p[-1] == ')'))
		p--;
	while (p > line && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '-'))
		p--;
	return strtoll(p, NULL, 10);
}

static void test_format_every_line_prefixed(void **state)
{
	struct mmapread_stats s = sample();
	char text[BIG], line[512];
	size_t len;
	unsigned int lines = 0;

	(void)state;
	len = mr_stats_format(text, sizeof(text), &s, "prog", 42, DETAIL);
	assert_true(len > 0);
	assert_int_equal(text[len - 1], '\n');
	for (unsigned int i = 0; nth_line(text, i, line, sizeof(line)); i++) {
		print_message("%s\n", line);
		assert_true(strncmp(line, "mmapread:", 9) == 0);
		lines++;
	}
	/* A header and at least one line per counter. */
	assert_true(lines >= 10);
	assert_non_null(strstr(text, "prog"));
	assert_non_null(strstr(text, "42"));
	/* The caller's breakdown is a line of its own, prefixed too. */
	assert_non_null(strstr(text, DETAIL "\n"));
}

static void test_format_net_saving(void **state)
{
	struct mmapread_stats s = sample();
	char text[BIG], line[512];

	(void)state;
	format(text, sizeof(text), &s);
	assert_true(find_line(text, "net ", line, sizeof(line)));
	assert_int_equal(last_number(line), 40 - 15);

	/* More added than saved: the saving is negative, not 2^64 - 7. */
	s.syscalls_saved = 5;
	s.syscalls_added = 12;
	format(text, sizeof(text), &s);
	assert_true(find_line(text, "net ", line, sizeof(line)));
	assert_int_equal(last_number(line), -7);
	assert_null(strstr(text, "18446744073709551609"));
}

static void test_format_fallbacks(void **state)
{
	struct mmapread_stats s = sample();
	char text[BIG], line[512];

	(void)state;
	format(text, sizeof(text), &s);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		const char *name = mr_stats_fallback_text(i);
		bool listed = find_line(text, name, line, sizeof(line));

		print_message("fallback '%s': %llu\n", name,
			      (unsigned long long)s.fallbacks[i]);
		assert_int_equal(listed, s.fallbacks[i] != 0);
		if (listed)
			assert_int_equal(last_number(line), s.fallbacks[i]);
	}
	/* The total above the breakdown. */
	assert_true(find_line(text, "fallbacks", line, sizeof(line)));
	assert_int_equal(last_number(line), 6);

	/* With no fallback at all, no reason is listed. */
	memset(s.fallbacks, 0, sizeof(s.fallbacks));
	format(text, sizeof(text), &s);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		assert_null(strstr(text, mr_stats_fallback_text(i)));
}

static void test_format_human_units(void **state)
{
	struct mmapread_stats s = sample();
	char text[BIG];

	(void)state;
	format(text, sizeof(text), &s);
	assert_non_null(strstr(text, "1.5 KiB"));
	assert_non_null(strstr(text, "3.0 MiB"));
	s.bytes_served = 512;
	format(text, sizeof(text), &s);
	assert_non_null(strstr(text, "512 B"));
}

static void test_format_return_value(void **state)
{
	struct mmapread_stats s = sample();
	char full[BIG], small[64];
	size_t need, len;

	(void)state;
	need = format(full, sizeof(full), &s);
	assert_int_equal(need, strlen(full));

	/* Too small: the needed length, a NUL-terminated prefix, and not
	 * one byte written past cap. */
	memset(small, 'Z', sizeof(small));
	len = format(small, 40, &s);
	assert_int_equal(len, need);
	assert_int_equal(strlen(small), 39);
	assert_memory_equal(small, full, 39);
	for (size_t i = 40; i < sizeof(small); i++)
		assert_int_equal(small[i], 'Z');

	/* Exactly need bytes leaves no room for the NUL: still truncated. */
	{
		char *exact = malloc(need + 1);

		assert_non_null(exact);
		exact[need] = 'Z';
		assert_int_equal(format(exact, need, &s), need);
		assert_int_equal(strlen(exact), need - 1);
		assert_int_equal(exact[need], 'Z');
		assert_int_equal(format(exact, need + 1, &s), need);
		assert_string_equal(exact, full);
		free(exact);
	}

	memset(small, 'Z', sizeof(small));
	assert_int_equal(format(small, 1, &s), need);
	assert_int_equal(small[0], '\0');
	assert_int_equal(small[1], 'Z');
	assert_int_equal(format(NULL, 0, &s), need);
}

static void test_fallback_names(void **state)
{
	(void)state;
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		const char *name = mr_stats_fallback_name(i);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		assert_null(strchr(name, '\n'));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(mr_stats_fallback_name(j),
						name);
	}
	assert_null(mr_stats_fallback_name(-1));
	assert_null(mr_stats_fallback_name(MMAPREAD_FB_COUNT));
	assert_null(mr_stats_fallback_name(1 << 30));
}

static void test_snapshot_sums(void **state)
{
	struct mmapread_stats before, after;

	(void)state;
	mr_stats_snapshot(&before);
	mr_count(MR_C_READS_SERVED, 3);
	mr_count(MR_C_PREADS_SERVED, 4);
	mr_count(MR_C_LSEEKS_SERVED, 1);
	mr_count(MR_C_BYTES_SERVED, 1000);
	mr_count(MR_C_SYS_MMAP, 2);
	mr_count(MR_C_SYS_FSTAT, 5);
	mr_count(MR_C_SYS_SIGACTION, 1);
	mr_count_fallback(MMAPREAD_FB_WONT_PAY);
	mr_stats_snapshot(&after);

	assert_int_equal(after.reads_served - before.reads_served, 3);
	assert_int_equal(after.preads_served - before.preads_served, 4);
	assert_int_equal(after.readvs_served - before.readvs_served, 0);
	assert_int_equal(after.lseeks_served - before.lseeks_served, 1);
	assert_int_equal(after.syscalls_saved - before.syscalls_saved, 8);
	assert_int_equal(after.syscalls_added - before.syscalls_added, 8);
	assert_int_equal(after.bytes_served - before.bytes_served, 1000);
	assert_int_equal(after.fallbacks[MMAPREAD_FB_WONT_PAY] -
				 before.fallbacks[MMAPREAD_FB_WONT_PAY],
			 1);
	assert_int_equal(after.fallbacks[MMAPREAD_FB_EMPTY],
			 before.fallbacks[MMAPREAD_FB_EMPTY]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_every_line_prefixed),
		cmocka_unit_test(test_format_net_saving),
		cmocka_unit_test(test_format_fallbacks),
		cmocka_unit_test(test_format_human_units),
		cmocka_unit_test(test_format_return_value),
		cmocka_unit_test(test_fallback_names),
		cmocka_unit_test(test_snapshot_sums),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
