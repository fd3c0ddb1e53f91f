/*
 * Unit tests for mr_policy.h: the offset arithmetic of served calls, which
 * must give the kernel's answers (DESIGN-NOTES.md section 8), and the
 * thresholds that decide whether a file is mapped.
 */
#include "unit.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "mr_policy.h"

#define EOF_POS 10000 /* a file size for the seek tests */
#define SENTINEL ((int64_t)0x5eed5eed5eed)

#ifndef SEEK_DATA
#define SEEK_DATA 3
#endif
#ifndef SEEK_HOLE
#define SEEK_HOLE 4
#endif

/* ---- mr_seek_target --------------------------------------------------- */

/* Expect success landing at want. */
static void seek_ok(int64_t cur, int64_t off, int whence, int64_t want)
{
	int64_t pos = SENTINEL;

	print_message("seek cur %lld off %lld whence %d\n", (long long)cur,
		      (long long)off, whence);
	assert_int_equal(mr_seek_target(cur, off, whence, &pos), 0);
	assert_int_equal(pos, want);
}

/* Expect err, and the caller's position left alone as the kernel does. */
static void seek_fails(int64_t cur, int64_t off, int whence, int err)
{
	int64_t pos = SENTINEL;

	print_message("seek cur %lld off %lld whence %d\n", (long long)cur,
		      (long long)off, whence);
	assert_int_equal(mr_seek_target(cur, off, whence, &pos), err);
	assert_int_equal(pos, SENTINEL);
}

static void test_seek_set(void **state)
{
	(void)state;
	/* cur must not matter for SEEK_SET. */
	seek_ok(777, 0, SEEK_SET, 0);
	seek_ok(777, EOF_POS - 1, SEEK_SET, EOF_POS - 1);
	seek_ok(777, EOF_POS, SEEK_SET, EOF_POS);
	/* Past end of file is legal. */
	seek_ok(777, EOF_POS + 1, SEEK_SET, EOF_POS + 1);
	seek_ok(0, INT64_MAX, SEEK_SET, INT64_MAX);
	seek_fails(777, -1, SEEK_SET, -EINVAL);
	seek_fails(0, INT64_MIN, SEEK_SET, -EINVAL);
}

static void test_seek_cur(void **state)
{
	(void)state;
	seek_ok(0, 0, SEEK_CUR, 0);
	seek_ok(EOF_POS, -1, SEEK_CUR, EOF_POS - 1);
	seek_ok(EOF_POS - 1, 1, SEEK_CUR, EOF_POS);
	seek_ok(EOF_POS, 0, SEEK_CUR, EOF_POS);
	seek_ok(EOF_POS, 5, SEEK_CUR, EOF_POS + 5);
	seek_ok(10, -10, SEEK_CUR, 0);
	seek_ok(INT64_MAX - 5, 5, SEEK_CUR, INT64_MAX);
	seek_ok(INT64_MAX, 0, SEEK_CUR, INT64_MAX);
	seek_ok(INT64_MAX, -INT64_MAX, SEEK_CUR, 0);
	/* Negative results. */
	seek_fails(10, -11, SEEK_CUR, -EINVAL);
	seek_fails(0, -1, SEEK_CUR, -EINVAL);
	seek_fails(0, INT64_MIN, SEEK_CUR, -EINVAL);
	seek_fails(INT64_MAX, INT64_MIN, SEEK_CUR, -EINVAL);
	/* Overflow past INT64_MAX must not wrap into a valid offset. */
	seek_fails(INT64_MAX, 1, SEEK_CUR, -EINVAL);
	seek_fails(1, INT64_MAX, SEEK_CUR, -EINVAL);
	seek_fails(INT64_MAX, INT64_MAX, SEEK_CUR, -EINVAL);
}

static void test_seek_kernel_only(void **state)
{
	static const int whences[] = { SEEK_END, SEEK_DATA, SEEK_HOLE, 99, -1 };

	(void)state;
	/* Only the kernel knows the size and the holes, whatever off is. */
	for (size_t i = 0; i < sizeof(whences) / sizeof(whences[0]); i++) {
		seek_fails(EOF_POS, 0, whences[i], -EOPNOTSUPP);
		seek_fails(0, 1, whences[i], -EOPNOTSUPP);
		seek_fails(0, -1, whences[i], -EOPNOTSUPP);
	}
}

/* ---- mr_span_inside --------------------------------------------------- */

static void test_span_inside(void **state)
{
	const size_t len = 8192;

	(void)state;
	assert_true(mr_span_inside(0, 0, len));
	assert_true(mr_span_inside(0, 1, len));
	assert_true(mr_span_inside(0, len, len));
	assert_false(mr_span_inside(0, len + 1, len));
	assert_true(mr_span_inside(len - 1, 1, len));
	assert_false(mr_span_inside(len - 1, 2, len));
	/* At the end: nothing fits but nothing. */
	assert_true(mr_span_inside(len, 0, len));
	assert_false(mr_span_inside(len, 1, len));
	assert_false(mr_span_inside(len + 1, 0, len));
	/* Negative positions never lie inside. */
	assert_false(mr_span_inside(-1, 0, len));
	assert_false(mr_span_inside(-1, 1, len));
	assert_false(mr_span_inside(INT64_MIN, len, len));
	/* Huge n must not wrap pos + n back into range. */
	assert_false(mr_span_inside(1, SIZE_MAX, len));
	assert_false(mr_span_inside(len / 2, SIZE_MAX - len / 2 + 2, len));
	assert_false(mr_span_inside(INT64_MAX, 1, len));
	assert_false(mr_span_inside(INT64_MAX, 0, len));
	/* An empty mapping holds only the empty span at 0. */
	assert_true(mr_span_inside(0, 0, 0));
	assert_false(mr_span_inside(0, 1, 0));
	assert_false(mr_span_inside(1, 0, 0));
	/* And the largest mapping holds everything non-negative. */
	assert_true(mr_span_inside(0, SIZE_MAX, SIZE_MAX));
	assert_true(mr_span_inside(INT64_MAX, 0, SIZE_MAX));
	assert_true(mr_span_inside(INT64_MAX, SIZE_MAX - INT64_MAX, SIZE_MAX));
	assert_false(mr_span_inside(INT64_MAX, SIZE_MAX - INT64_MAX + 1,
				    SIZE_MAX));
}

/* ---- mr_clamp_rw ------------------------------------------------------ */

static void test_clamp_rw(void **state)
{
	(void)state;
	assert_int_equal(MR_MAX_RW_COUNT, 0x7ffff000ul);
	assert_int_equal(mr_clamp_rw(0), 0);
	assert_int_equal(mr_clamp_rw(1), 1);
	assert_int_equal(mr_clamp_rw(0x7fffefff), 0x7fffefff);
	assert_int_equal(mr_clamp_rw(0x7ffff000), 0x7ffff000);
	assert_int_equal(mr_clamp_rw(0x7ffff001), 0x7ffff000);
	assert_int_equal(mr_clamp_rw(0x80000000), 0x7ffff000);
	assert_int_equal(mr_clamp_rw(SSIZE_MAX), 0x7ffff000);
	assert_int_equal(mr_clamp_rw(SIZE_MAX), 0x7ffff000);
}

/* ---- mr_user_range_ok ------------------------------------------------- */

static void test_user_range_ok(void **state)
{
	const uintptr_t end = MR_USER_ADDR_END;

	(void)state;
	/* The kernel accepts NULL ranges and lets the copy fault. */
	assert_true(mr_user_range_ok(NULL, 0));
	assert_true(mr_user_range_ok(NULL, 1));
	assert_true(mr_user_range_ok(NULL, end));
	assert_false(mr_user_range_ok(NULL, end + 1));
	/* The top of user space, to the byte. */
	assert_true(mr_user_range_ok((void *)end, 0));
	assert_true(mr_user_range_ok((void *)(end - 1), 1));
	assert_false(mr_user_range_ok((void *)(end - 1), 2));
	assert_false(mr_user_range_ok((void *)end, 1));
	assert_true(mr_user_range_ok((void *)(end - 4096), 4096));
	assert_false(mr_user_range_ok((void *)(end - 4096), 4097));
	assert_false(mr_user_range_ok((void *)(end + 1), 0));
	/* Kernel addresses. */
	assert_false(mr_user_range_ok((void *)0xffff800000000000ul, 0));
	assert_false(mr_user_range_ok((void *)0xffffffffff600000ul, 4096));
	/* start + count wrapping around must not look small. */
	assert_false(mr_user_range_ok((void *)UINTPTR_MAX, 1));
	assert_false(mr_user_range_ok((void *)(UINTPTR_MAX - 10), 20));
	assert_false(mr_user_range_ok((void *)4096, SIZE_MAX));
	assert_false(mr_user_range_ok((void *)4096, SIZE_MAX - 4095));
	/* An ordinary buffer. */
	assert_true(mr_user_range_ok(&end, sizeof(end)));
}

/* ---- mr_policy_counts ------------------------------------------------- */

static void test_policy_counts(void **state)
{
	(void)state;
	assert_int_equal(MR_POLICY_SMALL_REQUEST, 16 * 1024);
	assert_false(mr_policy_counts(0));
	assert_true(mr_policy_counts(1));
	assert_true(mr_policy_counts(4096));
	assert_true(mr_policy_counts(16 * 1024));
	assert_false(mr_policy_counts(16 * 1024 + 1));
	assert_false(mr_policy_counts(64 * 1024));
	assert_false(mr_policy_counts(SIZE_MAX));
}

/* ---- mr_policy_should_map --------------------------------------------- */

#define REQ 4096u

/* A regular file of size bytes, read sequentially from offset by REQ. */
static struct mr_file_facts facts_of(int64_t size, int64_t offset)
{
	struct mr_file_facts f = {
		.mode = S_IFREG | 0644,
		.size = size,
		.offset = offset,
		.avg_request = REQ,
		.positional = false,
		.max_size = 0,
	};

	return f;
}

static void expect_map(const struct mr_file_facts *f)
{
	/* A value no caller uses, to see that success does not need it. */
	enum mmapread_fallback reason = MMAPREAD_FB_COUNT;

	assert_true(mr_policy_should_map(f, &reason));
}

static void expect_fallback(const struct mr_file_facts *f,
			    enum mmapread_fallback want)
{
	enum mmapread_fallback reason = MMAPREAD_FB_COUNT;

	assert_false(mr_policy_should_map(f, &reason));
	assert_int_equal(reason, want);
}

static void test_should_map_not_regular(void **state)
{
	static const mode_t modes[] = { S_IFIFO, S_IFCHR, S_IFDIR,
					S_IFBLK, S_IFSOCK, S_IFLNK };
	struct mr_file_facts f = facts_of(1 << 20, 0);

	(void)state;
	/* The same facts with a regular file map: only the mode differs. */
	expect_map(&f);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		f.mode = modes[i] | 0644;
		expect_fallback(&f, MMAPREAD_FB_NOT_REGULAR);
	}
	/* The file type outranks the size. */
	f = facts_of(0, 0);
	f.mode = S_IFIFO | 0600;
	expect_fallback(&f, MMAPREAD_FB_NOT_REGULAR);
}

static void test_should_map_empty(void **state)
{
	struct mr_file_facts f = facts_of(0, 0);

	(void)state;
	expect_fallback(&f, MMAPREAD_FB_EMPTY);
	f.positional = true;
	expect_fallback(&f, MMAPREAD_FB_EMPTY);
	f = facts_of(-1, 0);
	expect_fallback(&f, MMAPREAD_FB_EMPTY);
}

static void test_should_map_too_large(void **state)
{
	struct mr_file_facts f = facts_of(1 << 20, 0);

	(void)state;
	f.max_size = 1 << 20;
	expect_map(&f);
	f.size = (1 << 20) + 1;
	expect_fallback(&f, MMAPREAD_FB_TOO_LARGE);
	f.positional = true;
	expect_fallback(&f, MMAPREAD_FB_TOO_LARGE);
	/* 0 means no ceiling at all. */
	f.max_size = 0;
	f.size = INT64_MAX;
	expect_map(&f);
	f.positional = false;
	expect_map(&f);
}

static void test_should_map_threshold_read(void **state)
{
	const int64_t need = (int64_t)MR_POLICY_MIN_REQUESTS_LEFT * REQ;
	const int64_t size = 1 << 20;
	struct mr_file_facts f;

	(void)state;
	/* From the start of a file just big enough, and one byte short. */
	f = facts_of(need, 0);
	expect_map(&f);
	f = facts_of(need - 1, 0);
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);

	/* What counts is what remains after the offset. */
	f = facts_of(size, size - need);
	expect_map(&f);
	f = facts_of(size, size - need + 1);
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);
	f = facts_of(size, size);
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);
	f = facts_of(size, size + 12345);
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);
	f = facts_of(size, INT64_MAX);
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);

	/* The observed request size scales the threshold. */
	f = facts_of(MR_POLICY_MIN_REQUESTS_LEFT, 0);
	f.avg_request = 1;
	expect_map(&f);
	f.size--;
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);
	f = facts_of((int64_t)MR_POLICY_MIN_REQUESTS_LEFT *
			     MR_POLICY_SMALL_REQUEST,
		     0);
	f.avg_request = MR_POLICY_SMALL_REQUEST;
	expect_map(&f);
	f.avg_request++;
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);
}

static void test_should_map_threshold_positional(void **state)
{
	const int64_t need = (int64_t)MR_POLICY_MIN_REQUESTS_LEFT * REQ;
	struct mr_file_facts f;

	(void)state;
	/* pread does not care where the offset is: the whole file counts,
	 * so the same offsets that fail for read() pass here. */
	f = facts_of(need, need);
	f.positional = true;
	expect_map(&f);
	f.offset = need + 99;
	expect_map(&f);
	f.offset = need - 1;
	expect_map(&f);
	f.positional = false;
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);

	/* But the whole file must still be big enough. */
	f = facts_of(need - 1, 0);
	f.positional = true;
	expect_fallback(&f, MMAPREAD_FB_WONT_PAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seek_set),
		cmocka_unit_test(test_seek_cur),
		cmocka_unit_test(test_seek_kernel_only),
		cmocka_unit_test(test_span_inside),
		cmocka_unit_test(test_clamp_rw),
		cmocka_unit_test(test_user_range_ok),
		cmocka_unit_test(test_policy_counts),
		cmocka_unit_test(test_should_map_not_regular),
		cmocka_unit_test(test_should_map_empty),
		cmocka_unit_test(test_should_map_too_large),
		cmocka_unit_test(test_should_map_threshold_read),
		cmocka_unit_test(test_should_map_threshold_positional),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
