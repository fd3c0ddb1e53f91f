/*
 * Failure injection: the pool and the fd table when mmap() fails.
 *
 * Linked with -Wl,--wrap=mmap64 (and --wrap=mmap): the core's objects are
 * linked into this executable from the static library, so their calls land
 * in the wrappers below. Both names are wrapped because Meson builds with
 * -D_FILE_OFFSET_BITS=64, under which glibc's <sys/mman.h> renames every
 * mmap() call to mmap64.
 *
 * While mock_mmap is set, every call takes its fate from cmocka's queue
 * (will_return: 0 runs the real mmap, an errno fails with it), so a test
 * also proves how many mappings an operation attempts: an unexpected call
 * fails on an empty queue, a missing one leaves a value queued.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "mr_desc.h"
#include "mr_fdtable.h"

#define POOL_CHUNK 256 /* objects per pool chunk (preload/desc.c) */

static bool mock_mmap;     /* take each call's fate from will_return() */
static bool fail_mmap;     /* fail every call with ENOMEM */
static unsigned long mmap_calls;

void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);

void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	int err = 0;

	mmap_calls++;
	if (fail_mmap)
		err = ENOMEM;
	else if (mock_mmap)
		err = mock_type(int);
	if (err) {
		errno = err;
		return MAP_FAILED;
	}
	return __real_mmap64(addr, len, prot, flags, fd, off);
}

/* On x86-64 mmap and mmap64 are one function under two names. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	return __wrap_mmap64(addr, len, prot, flags, fd, off);
}

static uint32_t baseline;

static int setup(void **state)
{
	(void)state;
	mock_mmap = false;
	fail_mmap = false;
	baseline = mr_desc_live_count();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mock_mmap = false;
	fail_mmap = false;
	return mr_desc_live_count() == baseline ? 0 : -1;
}

/* ---- the pool --------------------------------------------------------- */

#define MAX_HELD (3 * POOL_CHUNK)

static void test_desc_new_fails_on_new_chunk(void **state)
{
	static struct mr_desc *held[MAX_HELD];
	unsigned int n = 0;
	unsigned long calls;
	struct mr_desc *desc;

	(void)state;
	/* Take objects until one comes from a fresh chunk: the free list
	 * then holds exactly that chunk's other objects. */
	calls = mmap_calls;
	while (mmap_calls == calls) {
		assert_true(n < MAX_HELD);
		held[n] = mr_desc_new(O_RDONLY);
		assert_non_null(held[n]);
		n++;
	}
	calls = mmap_calls;
	for (int i = 1; i < POOL_CHUNK; i++) {
		held[n] = mr_desc_new(O_RDONLY);
		assert_non_null(held[n]);
		n++;
	}
	/* All from the chunk already mapped. */
	assert_int_equal(mmap_calls, calls);

	/* The pool is dry: the next object needs a chunk, and gets none. */
	mock_mmap = true;
	will_return(__wrap_mmap64, ENOMEM);
	assert_null(mr_desc_new(O_RDONLY));
	assert_int_equal(mmap_calls, calls + 1);
	assert_int_equal(mr_desc_live_count(), baseline + n);

	/* Memory is back: the pool grows again. */
	will_return(__wrap_mmap64, 0);
	desc = mr_desc_new(O_RDONLY);
	assert_non_null(desc);
	assert_int_equal(atomic_load(&desc->refs), 1);
	assert_int_equal(mmap_calls, calls + 2);
	mock_mmap = false;

	mr_desc_put(desc);
	for (unsigned int i = 0; i < n; i++)
		mr_desc_put(held[i]);
	assert_int_equal(mr_desc_live_count(), baseline);
}

/* ---- the fd table ----------------------------------------------------- */

/* Fresh levels for this test: no other test here touches them. */
#define FD_FRESH ((3 << 28) + 5)

static void test_install_fails_without_memory(void **state)
{
	struct mr_desc *desc;

	(void)state;
	desc = mr_desc_new(O_RDONLY);
	assert_non_null(desc);

	/* No memory for the middle level. */
	mock_mmap = true;
	will_return(__wrap_mmap64, ENOMEM);
	assert_false(mr_fdtable_install(FD_FRESH, desc));
	/* The fd stays untracked and no reference leaked into it. */
	assert_int_equal(atomic_load(&desc->refs), 1);
	assert_null(mr_fdtable_acquire(FD_FRESH));

	/* Middle level granted, leaf refused. */
	will_return(__wrap_mmap64, 0);
	will_return(__wrap_mmap64, ENOMEM);
	assert_false(mr_fdtable_install(FD_FRESH, desc));
	assert_int_equal(atomic_load(&desc->refs), 1);
	assert_null(mr_fdtable_acquire(FD_FRESH));

	/* Memory is back: only the leaf is still missing. */
	will_return(__wrap_mmap64, 0);
	assert_true(mr_fdtable_install(FD_FRESH, desc));
	assert_ptr_equal(mr_fdtable_acquire(FD_FRESH), desc);
	mr_desc_put(desc);

	/* A neighbour in the same leaf needs no memory at all: any mmap
	 * call now would find the queue empty and fail the test. */
	assert_true(mr_fdtable_install(FD_FRESH + 1, desc));
	mock_mmap = false;
	assert_int_equal(atomic_load(&desc->refs), 3);

	mr_fdtable_forget(FD_FRESH);
	mr_fdtable_forget(FD_FRESH + 1);
	assert_int_equal(atomic_load(&desc->refs), 1);
	mr_desc_put(desc);
}

/*
 * A process under memory pressure may fail to grow the pool many times;
 * once memory is back, descriptions must be had again. Runs in a child:
 * if the pool breaks for good, only the child's copy does.
 */
#define MANY_FAILURES 40000
#define POOL_MAX_CHUNKS 16384 /* preload/desc.c */

static int pool_recovers_child(void)
{
	unsigned int failed = 0;
	unsigned long calls;
	struct mr_desc *desc;

	fail_mmap = true;
	calls = mmap_calls;
	/* The first calls may drain objects freed by earlier tests. */
	for (int i = 0; i < MANY_FAILURES; i++)
		failed += mr_desc_new(O_RDONLY) == NULL;
	dprintf(2, "%u failures, %lu mmap attempts\n", failed,
		mmap_calls - calls);
	CHILD_ASSERT(failed > POOL_MAX_CHUNKS);

	fail_mmap = false;
	desc = mr_desc_new(O_RDONLY);
	CHILD_ASSERT(desc != NULL);
	CHILD_ASSERT(atomic_load(&desc->refs) == 1);
	mr_desc_put(desc);
	return 0;
}

static void test_pool_recovers_after_many_failures(void **state)
{
	(void)state;
	unit_child_passes(pool_recovers_child);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_desc_new_fails_on_new_chunk),
		T(test_install_fails_without_memory),
		T(test_pool_recovers_after_many_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
