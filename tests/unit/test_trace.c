/*
 * Unit tests for the call traces (mr_trace.h).
 *
 * The core is linked into this program, so the stacks recorded here start
 * at this file's functions: a record made in reader_site() must come out
 * named reader_site, found through the symbol table (nothing here is
 * exported, so dladdr alone could not name it), in the text and in the
 * JSON report. Then the properties the hot path relies on: only enabled
 * kinds are recorded; the table never loses a count (a full table counts
 * into "other stacks"); two threads get exact counts, also when both
 * claim a slot for the same new stack at once; a signal handler may
 * record while the thread it interrupted is recording (that nested record
 * is dropped and counted); errno survives, also libunwind's set-up; a
 * fork child starts from zero; a short buffer gets a NUL and the length
 * needed.
 *
 * Built against trace.c or trace_none.c (MR_TEST_HAVE_LIBUNWIND says
 * which): the parser tests run on both, the twin must record nothing.
 */
#include "unit.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mr_stats.h"
#include "mr_trace.h"

#define MASK(kind) (1u << (kind))

static char report[1 << 18];

/*
 * Keeps calls out of tail position, so that every site keeps its frame;
 * atomic, as the threads of the tests all go through it.
 */
static _Atomic int sink;
#define KEEP_FRAME() atomic_fetch_add_explicit(&sink, 1, memory_order_relaxed)

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
	if ((size_t)(end - text) >= cap)
		return false;
	memcpy(line, text, (size_t)(end - text));
	line[end - text] = '\0';
	return true;
}

struct entry_line {
	unsigned long long count;
	char event[64];
	char first[256];  /* the first frame, "function+0xoff" */
	char rest[4096];  /* what follows it */
};

/* Parse an entry line of the text report; false for other lines. */
static bool parse_entry(const char *line, struct entry_line *e)
{
	int used = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "mmapread:   %llu x %63s  at %255s%n", &e->count,
		   e->event, e->first, &used) != 3)
		return false;
	snprintf(e->rest, sizeof(e->rest), "%s", line + used);
	return true;
}

/*
 * The sum of the counts of the entries of this event whose first frame
 * starts with prefix (NULL: any), in the full text report.
 */
static unsigned long long text_count(const char *event, const char *prefix)
{
	unsigned long long sum = 0;
	struct entry_line e;
	char line[8192];

	mr_trace_format_text(report, sizeof(report), 0);
	for (unsigned int i = 0; nth_line(report, i, line, sizeof(line));
	     i++) {
		if (!parse_entry(line, &e) || strcmp(e.event, event))
			continue;
		if (!prefix || !strncmp(e.first, prefix, strlen(prefix)))
			sum += e.count;
	}
	return sum;
}

/*
 * Events dropped as nested, from the text report's line about them;
 * ULLONG_MAX if that line cannot be read. No cmocka: children call it.
 */
static unsigned long long nested_count(void)
{
	unsigned long long n = 0;
	const char *p;

	mr_trace_format_text(report, sizeof(report), 0);
	p = strstr(report, " events not traced (");
	if (!p)
		return 0;
	while (p > report && p[-1] != ' ')
		p--;
	return sscanf(p, "%llu", &n) == 1 ? n : ULLONG_MAX;
}

/* ---- the call sites ----------------------------------------------------
 * Each site must be a frame of its own, with return addresses of its own:
 * not inlined, not folded with a twin of the same code (GCC's identical
 * code folding at -O2), and with a store after each call so that no call
 * becomes a jump.
 */
#ifdef __clang__
#define SITE __attribute__((noinline))
#else
#define SITE __attribute__((noipa))
#endif

SITE static void reader_site(enum mr_trace_kind kind, int reason)
{
	mr_trace_record(kind, reason);
	KEEP_FRAME();
}

SITE static void outer_site(int times)
{
	for (int i = 0; i < times; i++)
		reader_site(MR_TRACE_READ, 0);
	KEEP_FRAME();
}

SITE static void other_site(void)
{
	mr_trace_record(MR_TRACE_READ, 0);
	KEEP_FRAME();
}

/*
 * A distinct stack for every value of bits: each level is a call from
 * go_left() or from go_right(), which are different return addresses.
 */
static void go_right(unsigned int bits, unsigned int levels);

SITE static void go_left(unsigned int bits, unsigned int levels)
{
	if (!levels)
		mr_trace_record(MR_TRACE_MAP, 0);
	else if (bits & 1)
		go_right(bits >> 1, levels - 1);
	else
		go_left(bits >> 1, levels - 1);
	KEEP_FRAME();
}

SITE static void go_right(unsigned int bits, unsigned int levels)
{
	if (!levels)
		mr_trace_record(MR_TRACE_MAP, 0);
	else if (bits & 1)
		go_right(bits >> 1, levels - 1);
	else
		go_left(bits >> 1, levels - 1);
	KEEP_FRAME();
}

/* Every path of bits, then the first one again: one call site for all. */
SITE static void all_paths(unsigned int paths)
{
	for (unsigned int i = 0; i <= paths; i++)
		go_left(i % paths, 9);
	KEEP_FRAME();
}

/* ---- set-up ------------------------------------------------------------ */

/*
 * Every recording test starts from zero counts with the kinds it names;
 * against the twin there is nothing to record and the test is skipped.
 */
static void start(uint32_t mask)
{
	if (!MR_TEST_HAVE_LIBUNWIND)
		skip();
	mr_trace_restart_in_child();
	assert_int_equal(mr_trace_set_mask(mask), 0);
}

/* ---- parsing: both builds ---------------------------------------------- */

static void test_parse_accepts(void **state)
{
	static const struct {
		const char *text;
		uint32_t mask;
	} cases[] = {
		{ "map", MASK(MR_TRACE_MAP) },
		{ "sigbus", MASK(MR_TRACE_SIGBUS) },
		{ "read", MASK(MR_TRACE_READ) },
		{ "fallback", MASK(MR_TRACE_FALLBACK) },
		{ "all", MR_TRACE_ALL },
		{ "ALL", MR_TRACE_ALL },
		{ "Map,READ", MASK(MR_TRACE_MAP) | MASK(MR_TRACE_READ) },
		{ " map , read ", MASK(MR_TRACE_MAP) | MASK(MR_TRACE_READ) },
		{ "\tfallback", MASK(MR_TRACE_FALLBACK) },
		{ "fallback,map,sigbus,read", MR_TRACE_ALL },
		{ "map,map", MASK(MR_TRACE_MAP) },
		{ "map,all", MR_TRACE_ALL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t mask = 0xdead0000;

		print_message("trace '%s'\n", cases[i].text);
		assert_int_equal(mr_parse_trace(cases[i].text, &mask), 0);
		assert_int_equal(mask, cases[i].mask);
	}
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",     " ",       ",",        "map,",     ",map",  "map,,read",
		"ma p", "maps",    "mapx",     "m",        "none",  "0",
		"1",    "map;read", "map read", "fallbacks", "al",  "map,\n",
		"read\n",
		/* Two words with a blank between: no character of the second
		 * may pass for a comma. */
		"map mmap",
	};

	(void)state;
	assert_int_equal(mr_parse_trace(NULL, &(uint32_t){ 0 }), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t mask = 0xdead0000;

		print_message("trace '%s'\n", bad[i]);
		assert_int_equal(mr_parse_trace(bad[i], &mask), -EINVAL);
		assert_int_equal(mask, 0xdead0000);
	}
}

static void test_set_mask_bad_bits(void **state)
{
	(void)state;
	assert_int_equal(mr_trace_set_mask(MR_TRACE_ALL + 1), -EINVAL);
	assert_int_equal(mr_trace_set_mask(0), 0);
	assert_false(mr_trace_wants(MR_TRACE_READ));
}

/*
 * The first mask loads libunwind, whose first unwind sets it up (its
 * probes of memory fail with EAGAIN once): errno stays as it was. In a
 * child, and before any other test loads it, so that this is the first.
 */
static int first_load_child(void)
{
	errno = 4242;
	CHILD_ASSERT(mr_trace_set_mask(MASK(MR_TRACE_READ)) == 0);
	CHILD_ASSERT(errno == 4242);
	reader_site(MR_TRACE_READ, 0);
	CHILD_ASSERT(errno == 4242);
	return 0;
}

static void test_first_load_keeps_errno(void **state)
{
	(void)state;
	if (!MR_TEST_HAVE_LIBUNWIND)
		skip();
	unit_child_passes(first_load_child);
}

/* ---- the twin: nothing recorded, and it says so ------------------------ */

static void test_twin_records_nothing(void **state)
{
	(void)state;
	if (MR_TEST_HAVE_LIBUNWIND)
		skip();
	assert_int_equal(mr_trace_set_mask(MR_TRACE_ALL), -EOPNOTSUPP);
	for (int k = 0; k < MR_TRACE_KINDS; k++)
		assert_false(mr_trace_wants((enum mr_trace_kind)k));
	outer_site(3);
	memset(report, 'x', 16);
	assert_int_equal(mr_trace_format_text(report, sizeof(report), 0), 0);
	assert_string_equal(report, "");
	memset(report, 'x', 16);
	assert_int_equal(mr_trace_format_json(report, sizeof(report), 0), 0);
	assert_string_equal(report, "");
	mr_trace_restart_in_child();
}

/* ---- recording --------------------------------------------------------- */

static void test_names_call_site(void **state)
{
	struct entry_line e;
	char line[8192];
	const char *frame, *end;

	(void)state;
	start(MASK(MR_TRACE_READ));
	assert_true(mr_trace_wants(MR_TRACE_READ));
	outer_site(5);
	other_site();
	mr_trace_format_text(report, sizeof(report), 0);
	print_message("%s", report);
	assert_true(nth_line(report, 0, line, sizeof(line)));
	assert_string_equal(line, "mmapread: call sites (MMAPREAD_TRACE=read)");
	assert_true(nth_line(report, 1, line, sizeof(line)));
	assert_true(parse_entry(line, &e));
	assert_int_equal(e.count, 5);
	assert_string_equal(e.event, "read");
	/* Frames of mr_trace_record and of libunwind are not shown. */
	assert_memory_equal(e.first, "reader_site+0x", 14);
	assert_non_null(strstr(e.rest, " (unit-trace) <- outer_site+0x"));
	assert_true(nth_line(report, 2, line, sizeof(line)));
	assert_true(parse_entry(line, &e));
	assert_int_equal(e.count, 1);
	assert_memory_equal(e.first, "other_site+0x", 13);
	assert_false(nth_line(report, 3, line, sizeof(line)));

	mr_trace_format_json(report, sizeof(report), 0);
	assert_int_equal(report[0], '[');
	assert_int_equal(report[strlen(report) - 1], ']');
	frame = strstr(report, "{\"event\": \"read\", \"count\": 5, "
			       "\"frames\": [{\"ip\": \"0x");
	assert_non_null(frame);
	end = strstr(frame, "}, {");
	assert_non_null(end);
	assert_non_null(strstr(frame, "\"function\": \"reader_site\", "
				      "\"offset\": "));
	assert_true(strstr(frame, "\"function\": \"reader_site\"") < end);
	assert_non_null(strstr(frame, "/unit-trace\"}, {\"ip\": \"0x"));
}

static void test_only_enabled_kinds(void **state)
{
	(void)state;
	start(MASK(MR_TRACE_MAP));
	assert_false(mr_trace_wants(MR_TRACE_READ));
	assert_true(mr_trace_wants(MR_TRACE_MAP));
	outer_site(2);  /* read: not enabled */
	reader_site(MR_TRACE_MAP, 0);
	mr_trace_format_text(report, sizeof(report), 0);
	assert_non_null(strstr(report, "(MMAPREAD_TRACE=map)\n"));
	assert_int_equal(text_count("read", NULL), 0);
	assert_int_equal(text_count("map", "reader_site+"), 1);
	start(0);
	assert_false(mr_trace_wants(MR_TRACE_MAP));
	reader_site(MR_TRACE_MAP, 0);
	assert_int_equal(mr_trace_format_text(report, sizeof(report), 0), 0);
	start(MR_TRACE_ALL);
	mr_trace_format_text(report, sizeof(report), 0);
	assert_non_null(strstr(report, "(MMAPREAD_TRACE=all)\n"));
	assert_non_null(strstr(report, "\nmmapread:   no events recorded\n"));
}

static void test_fallback_events(void **state)
{
	char event[64];

	(void)state;
	start(MASK(MR_TRACE_FALLBACK));
	reader_site(MR_TRACE_FALLBACK, MMAPREAD_FB_WONT_PAY);
	reader_site(MR_TRACE_FALLBACK, MMAPREAD_FB_WONT_PAY);
	reader_site(MR_TRACE_FALLBACK, MMAPREAD_FB_TOO_LARGE);
	reader_site(MR_TRACE_FALLBACK, -1);
	reader_site(MR_TRACE_FALLBACK, MMAPREAD_FB_COUNT);
	snprintf(event, sizeof(event), "fallback:%s",
		 mr_stats_fallback_name(MMAPREAD_FB_WONT_PAY));
	assert_int_equal(text_count(event, "reader_site+"), 2);
	snprintf(event, sizeof(event), "fallback:%s",
		 mr_stats_fallback_name(MMAPREAD_FB_TOO_LARGE));
	assert_int_equal(text_count(event, "reader_site+"), 1);
	assert_int_equal(text_count("fallback:unknown", "reader_site+"), 2);
}

static void test_errno_kept(void **state)
{
	(void)state;
	start(MASK(MR_TRACE_READ));
	errno = 4242;
	reader_site(MR_TRACE_READ, 0);
	assert_int_equal(errno, 4242);
	assert_int_equal(text_count("read", "reader_site+"), 1);
}

/* A short buffer: NUL-terminated, and the length needed comes back. */
static void test_format_limits(void **state)
{
	char small[40];
	size_t need, got;

	(void)state;
	start(MASK(MR_TRACE_READ));
	outer_site(3);
	other_site();
	need = mr_trace_format_text(report, sizeof(report), 0);
	assert_int_equal(need, strlen(report));
	memset(small, 'x', sizeof(small));
	got = mr_trace_format_text(small, sizeof(small), 0);
	assert_int_equal(got, need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, report, sizeof(small) - 1);

	need = mr_trace_format_json(report, sizeof(report), 0);
	assert_int_equal(need, strlen(report));
	got = mr_trace_format_json(small, sizeof(small), 0);
	assert_int_equal(got, need);
	assert_int_equal(strlen(small), sizeof(small) - 1);

	/* One entry shown, the other summed up. */
	mr_trace_format_text(report, sizeof(report), 1);
	assert_non_null(strstr(report, "\nmmapread:   3 x read  at "
				       "reader_site+"));
	assert_null(strstr(report, "other_site"));
	assert_non_null(strstr(report,
			       "\nmmapread:   1 more stacks, 1 events\n"));
	mr_trace_format_json(report, sizeof(report), 1);
	assert_non_null(strstr(report, "\"count\": 3,"));
	assert_null(strstr(report, "\"count\": 1,"));
}

/*
 * 2 * MR_TRACE_SLOTS distinct stacks, each recorded once: no count is
 * lost, the table keeps at most MR_TRACE_SLOTS of them, the rest land in
 * "other stacks", and a stack already in the table still counts there.
 * In a child: the table stays full afterwards.
 */
static int table_full_child(void)
{
	const unsigned int stacks = 2 * MR_TRACE_SLOTS;
	unsigned long long sum = 0, other = 0, kept = 0, twice = 0;
	struct entry_line e;
	char line[8192];

	mr_trace_restart_in_child();
	CHILD_ASSERT(mr_trace_set_mask(MASK(MR_TRACE_MAP)) == 0);
	all_paths(stacks);
	mr_trace_format_text(report, sizeof(report), 0);
	for (unsigned int i = 1; nth_line(report, i, line, sizeof(line));
	     i++) {
		if (!parse_entry(line, &e))
			continue;
		CHILD_ASSERT(!strcmp(e.event, "map"));
		sum += e.count;
		if (!strcmp(e.first, "(other")) {
			other += e.count;
		} else {
			CHILD_ASSERT(!strncmp(e.first, "go_", 3));
			CHILD_ASSERT(e.count == 1 || e.count == 2);
			kept++;
			twice += e.count == 2;
		}
	}
	dprintf(2, "table full: %llu stacks kept, %llu events in other\n",
		kept, other);
	CHILD_ASSERT(sum == stacks + 1);
	CHILD_ASSERT(kept <= MR_TRACE_SLOTS);
	CHILD_ASSERT(other >= stacks - MR_TRACE_SLOTS);
	CHILD_ASSERT(twice == 1);
	return 0;
}

static void test_table_full(void **state)
{
	(void)state;
	start(0);
	unit_child_passes(table_full_child);
}

/*
 * libunwind frees its per-thread cache from a pthread key destructor that
 * locks a mutex; under ThreadSanitizer (GCC 12) that destructor runs after
 * the thread's sanitizer state is gone, and crashes. There the test
 * threads park instead of exiting, and the process exit takes them.
 */
#ifdef __SANITIZE_THREAD__
static sem_t parked;

static void thread_end(void)
{
	sem_post(&parked);
	for (;;)
		pause();
}

static int thread_join(pthread_t t)
{
	(void)t;
	return sem_wait(&parked);
}
#else
static void thread_end(void)
{
}

static int thread_join(pthread_t t)
{
	return pthread_join(t, NULL);
}
#endif

#define THREAD_RECORDS 100000
#define RACES 128

static pthread_barrier_t barrier;

static void *recorder(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < THREAD_RECORDS; i++)
		reader_site(MR_TRACE_READ, 0);
	thread_end();
	return NULL;
}

/* Both threads record each new stack at once: both want its slot. */
static void *racer(void *arg)
{
	int *saved_errno = arg;

	for (unsigned int i = 0; i < RACES; i++) {
		pthread_barrier_wait(&barrier);
		errno = 4242;
		go_left(i, 9);
		if (errno != 4242)
			*saved_errno = errno;
	}
	thread_end();
	return NULL;
}

/* Two threads on one stack and on one slot: not one count lost. */
static void test_two_threads_exact(void **state)
{
	const char *first;
	char line[64];
	pthread_t t[2];

	(void)state;
	start(MASK(MR_TRACE_READ));
	assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, recorder, NULL),
				 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(thread_join(t[i]), 0);
	assert_int_equal(text_count("read", "reader_site+"),
			 2 * THREAD_RECORDS);
	assert_int_equal(text_count("read", NULL), 2 * THREAD_RECORDS);
	assert_int_equal(nested_count(), 0);
	/* One line: had both threads claimed a slot, the report merged them. */
	snprintf(line, sizeof(line), "\nmmapread:   %d x read  at ",
		 2 * THREAD_RECORDS);
	mr_trace_format_text(report, sizeof(report), 0);
	first = strstr(report, line);
	assert_non_null(first);
	assert_null(strstr(strchr(first + 1, '\n'), " x read  at "));
}

/*
 * RACES new stacks, each recorded by two threads released together (and
 * each thread's first unwind, where libunwind sets itself up): every
 * stack shows once with a count of 2, whichever thread claimed its slot,
 * and errno is what each thread left in it. In a child: RACES slots.
 */
static int races_child(void)
{
	int errors[2] = { 0, 0 };
	unsigned long long sum = 0, lines = 0;
	struct entry_line e;
	char line[8192];
	pthread_t t[2];

	mr_trace_restart_in_child();
	CHILD_ASSERT(pthread_barrier_init(&barrier, NULL, 2) == 0);
	for (int i = 0; i < 2; i++)
		CHILD_ASSERT(pthread_create(&t[i], NULL, racer,
					    &errors[i]) == 0);
	for (int i = 0; i < 2; i++)
		CHILD_ASSERT(thread_join(t[i]) == 0);
	CHILD_ASSERT(errors[0] == 0 && errors[1] == 0);
	mr_trace_format_text(report, sizeof(report), 0);
	for (unsigned int i = 1; nth_line(report, i, line, sizeof(line));
	     i++) {
		if (!parse_entry(line, &e))
			continue;
		CHILD_ASSERT(!strncmp(e.first, "go_", 3));
		CHILD_ASSERT(e.count == 2);
		sum += e.count;
		lines++;
	}
	CHILD_ASSERT(lines == RACES && sum == 2 * RACES);
	return 0;
}

static void test_racing_claims(void **state)
{
	(void)state;
	start(MASK(MR_TRACE_MAP));
	unit_child_passes(races_child);
}

static volatile sig_atomic_t ticks;

SITE static void handler_site(void)
{
	mr_trace_record(MR_TRACE_SIGBUS, 0);
	KEEP_FRAME();
}

static volatile sig_atomic_t errno_changed;

/* Unwinding through the signal frame makes libunwind probe memory with
 * system calls, which set errno: the record must not let that show. */
static void on_tick(int sig)
{
	int saved_errno = errno;

	(void)sig;
	ticks++;
	errno = 4242;
	handler_site();
	if (errno != 4242)
		errno_changed = 1;
	errno = saved_errno;
}

/*
 * A 100 us timer interrupts a loop of records, often inside libunwind: the
 * loop's own count is exact, and every handler's record is either counted
 * or dropped as nested, never lost and never a deadlock.
 */
static int signal_child(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL,
				.sigev_signo = SIGPROF };
	struct itimerspec every = { { 0, 100000 }, { 0, 100000 } };
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	unsigned long long in_handler, nested, loops = 0;
	timer_t timer;

	mr_trace_restart_in_child();
	CHILD_ASSERT(mr_trace_set_mask(MASK(MR_TRACE_READ) |
				       MASK(MR_TRACE_SIGBUS)) == 0);
	signal(SIGPROF, on_tick);
	CHILD_ASSERT(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0);
	CHILD_ASSERT(timer_settime(timer, 0, &every, NULL) == 0);
	/* About 0.2 s; the cap keeps a stopped timer from hanging us. */
	while (ticks < 2000 && loops < 2000000) {
		reader_site(MR_TRACE_READ, 0);
		loops++;
	}
	CHILD_ASSERT(timer_settime(timer, 0, &off, NULL) == 0);
	in_handler = text_count("sigbus", NULL);
	nested = nested_count();
	dprintf(2, "signals: %llu loops, %d ticks, %llu recorded, "
		   "%llu nested\n",
		loops, (int)ticks, in_handler, nested);
	CHILD_ASSERT(ticks > 0);
	CHILD_ASSERT(!errno_changed);
	CHILD_ASSERT(text_count("read", "reader_site+") == loops);
	CHILD_ASSERT(in_handler + nested == (unsigned long long)ticks);
	/* Most ticks land inside the loop's records: some were nested. */
	CHILD_ASSERT(nested > 0);
	CHILD_ASSERT(text_count("sigbus", "handler_site+") > 0);
	return 0;
}

static void test_signal_handler(void **state)
{
	(void)state;
	start(0);
	unit_child_passes(signal_child);
}

static int fork_child(void)
{
	mr_trace_restart_in_child();
	CHILD_ASSERT(text_count("read", NULL) == 0);
	reader_site(MR_TRACE_READ, 0);
	CHILD_ASSERT(text_count("read", "reader_site+") == 1);
	return 0;
}

static void test_fork_restarts(void **state)
{
	(void)state;
	start(MASK(MR_TRACE_READ));
	outer_site(3);
	unit_child_passes(fork_child);
	assert_int_equal(text_count("read", "reader_site+"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_set_mask_bad_bits),
		cmocka_unit_test(test_twin_records_nothing),
		cmocka_unit_test(test_first_load_keeps_errno),
		cmocka_unit_test(test_names_call_site),
		cmocka_unit_test(test_only_enabled_kinds),
		cmocka_unit_test(test_fallback_events),
		cmocka_unit_test(test_errno_kept),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_table_full),
		/* Before any thread of the parent: under ThreadSanitizer
		 * they stay parked, and its fork child may not start any. */
		cmocka_unit_test(test_racing_claims),
		cmocka_unit_test(test_two_threads_exact),
		cmocka_unit_test(test_signal_handler),
		cmocka_unit_test(test_fork_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
