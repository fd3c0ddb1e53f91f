/*
 * Unit tests for the description pool and the fd table.
 *
 * The table is process-wide, so every test starts and ends with it empty
 * (the fixtures check that) and compares mr_desc_live_count() with the
 * count at its start: a leaked or doubly freed reference shows up there.
 */
#include "unit.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mr_desc.h"
#include "mr_fdtable.h"

static uint32_t baseline;

static int setup(void **state)
{
	(void)state;
	mr_fdtable_forget_range(0, ~0u);
	baseline = mr_desc_live_count();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mr_fdtable_forget_range(0, ~0u);
	/* A test that left references behind fails here. */
	return mr_desc_live_count() == baseline ? 0 : -1;
}

static uint32_t refs_of(struct mr_desc *desc)
{
	return atomic_load(&desc->refs);
}

/* ---- descriptions ----------------------------------------------------- */

static void test_desc_new_fresh(void **state)
{
	struct mr_desc *desc;

	(void)state;
	desc = mr_desc_new(O_RDONLY | O_CLOEXEC);
	assert_non_null(desc);
	assert_int_equal(refs_of(desc), 1);
	assert_int_equal(desc->open_flags, O_RDONLY | O_CLOEXEC);
	assert_int_equal(atomic_load(&desc->state), MR_WATCHING);
	assert_int_equal(atomic_load(&desc->offset), 0);
	assert_null(desc->map);
	assert_int_equal(mr_desc_live_count(), baseline + 1);
	mr_desc_put(desc);
	assert_int_equal(mr_desc_live_count(), baseline);
}

/* A recycled object must come back as new as a fresh one. */
static void test_desc_recycled_is_reset(void **state)
{
	struct mr_desc *descs[8], *again[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		descs[i] = mr_desc_new(O_RDONLY);
		assert_non_null(descs[i]);
		atomic_store(&descs[i]->offset, 1000 + i);
		atomic_store(&descs[i]->state, MR_PASSTHROUGH);
		atomic_store(&descs[i]->deciding, 1);
		atomic_store(&descs[i]->inflight, 3);
		atomic_store(&descs[i]->watched_reads, 77);
		atomic_store(&descs[i]->watched_bytes, 7777);
		descs[i]->map_len = 4096;
	}
	for (int i = 0; i < 8; i++)
		mr_desc_put(descs[i]);
	for (int i = 0; i < 8; i++) {
		again[i] = mr_desc_new(O_RDONLY | O_NOATIME);
		assert_non_null(again[i]);
		assert_int_equal(refs_of(again[i]), 1);
		assert_int_equal(again[i]->open_flags, O_RDONLY | O_NOATIME);
		assert_int_equal(atomic_load(&again[i]->offset), 0);
		assert_int_equal(atomic_load(&again[i]->state), MR_WATCHING);
		assert_int_equal(atomic_load(&again[i]->deciding), 0);
		assert_int_equal(atomic_load(&again[i]->inflight), 0);
		assert_int_equal(atomic_load(&again[i]->watched_reads), 0);
		assert_int_equal(atomic_load(&again[i]->watched_bytes), 0);
		assert_int_equal(again[i]->map_len, 0);
		assert_null(again[i]->map);
	}
	/* Freed objects are reused before the pool grows. */
	for (int i = 0; i < 8; i++) {
		bool reused = false;

		for (int j = 0; j < 8; j++)
			reused |= again[i] == descs[j];
		assert_true(reused);
	}
	for (int i = 0; i < 8; i++)
		mr_desc_put(again[i]);
}

static void test_desc_refcount(void **state)
{
	struct mr_desc *desc;

	(void)state;
	desc = mr_desc_new(O_RDONLY);
	assert_non_null(desc);
	mr_desc_get(desc);
	assert_int_equal(refs_of(desc), 2);
	assert_true(mr_desc_tryget(desc));
	assert_int_equal(refs_of(desc), 3);
	mr_desc_put(desc);
	mr_desc_put(desc);
	assert_int_equal(mr_desc_live_count(), baseline + 1);
	mr_desc_put(desc);
	assert_int_equal(mr_desc_live_count(), baseline);
	/* Pool memory stays readable: a dead object refuses new
	 * references instead of coming back to life. */
	assert_false(mr_desc_tryget(desc));
	assert_int_equal(refs_of(desc), 0);
}

/* ---- install, acquire, forget ----------------------------------------- */

static void test_install_acquire_forget(void **state)
{
	struct mr_desc *desc, *got;

	(void)state;
	desc = mr_desc_new(O_RDONLY);
	assert_non_null(desc);
	assert_null(mr_fdtable_acquire(3));
	assert_true(mr_fdtable_install(3, desc));
	assert_int_equal(refs_of(desc), 2);

	got = mr_fdtable_acquire(3);
	assert_ptr_equal(got, desc);
	assert_int_equal(refs_of(desc), 3);
	mr_desc_put(got);

	/* Neighbours stay empty. */
	assert_null(mr_fdtable_acquire(2));
	assert_null(mr_fdtable_acquire(4));

	/* The slot alone keeps the description alive. */
	mr_desc_put(desc);
	assert_int_equal(refs_of(desc), 1);
	assert_int_equal(mr_desc_live_count(), baseline + 1);
	assert_ptr_equal(mr_fdtable_acquire(3), desc);
	mr_desc_put(desc);

	mr_fdtable_forget(3);
	assert_null(mr_fdtable_acquire(3));
	assert_int_equal(mr_desc_live_count(), baseline);
	/* Forgetting an empty slot is harmless. */
	mr_fdtable_forget(3);
	mr_fdtable_forget(12345);
	assert_int_equal(mr_desc_live_count(), baseline);
}

static void test_shared_description(void **state)
{
	struct mr_desc *desc, *a, *b;

	(void)state;
	/* dup(3) -> 7: one description, one offset. */
	desc = mr_desc_new(O_RDONLY);
	assert_non_null(desc);
	assert_true(mr_fdtable_install(3, desc));
	assert_true(mr_fdtable_install(7, desc));
	mr_desc_put(desc);
	assert_int_equal(refs_of(desc), 2);

	a = mr_fdtable_acquire(3);
	b = mr_fdtable_acquire(7);
	assert_ptr_equal(a, desc);
	assert_ptr_equal(b, desc);
	atomic_store(&a->offset, 4242);
	assert_int_equal(atomic_load(&b->offset), 4242);
	mr_desc_put(a);
	mr_desc_put(b);

	/* close(3) keeps 7 working. */
	mr_fdtable_forget(3);
	assert_null(mr_fdtable_acquire(3));
	assert_int_equal(mr_desc_live_count(), baseline + 1);
	b = mr_fdtable_acquire(7);
	assert_ptr_equal(b, desc);
	assert_int_equal(atomic_load(&b->offset), 4242);
	mr_desc_put(b);

	/* close(7) returns the object to the pool. */
	mr_fdtable_forget(7);
	assert_null(mr_fdtable_acquire(7));
	assert_int_equal(mr_desc_live_count(), baseline);
}

static void test_install_replaces(void **state)
{
	struct mr_desc *old, *new;

	(void)state;
	/* dup2() over a tracked fd, or an fd number reused by open(). */
	old = mr_desc_new(O_RDONLY);
	new = mr_desc_new(O_RDONLY);
	assert_non_null(old);
	assert_non_null(new);
	assert_true(mr_fdtable_install(5, old));
	mr_desc_put(old);
	assert_int_equal(mr_desc_live_count(), baseline + 2);

	assert_true(mr_fdtable_install(5, new));
	mr_desc_put(new);
	/* The old one had only the slot's reference: gone now. */
	assert_int_equal(mr_desc_live_count(), baseline + 1);
	assert_ptr_equal(mr_fdtable_acquire(5), new);
	mr_desc_put(new);

	/* Installing the same description again changes nothing. */
	assert_true(mr_fdtable_install(5, new));
	assert_int_equal(refs_of(new), 1);
	assert_int_equal(mr_desc_live_count(), baseline + 1);
}

static void test_negative_fd(void **state)
{
	struct mr_desc *desc;

	(void)state;
	assert_null(mr_fdtable_acquire(-1));
	assert_null(mr_fdtable_acquire(INT_MIN));
	mr_fdtable_forget(-1);
	mr_fdtable_forget(INT_MIN);

	desc = mr_desc_new(O_RDONLY);
	assert_non_null(desc);
	/* Refused, and without taking a reference it would never drop. */
	assert_false(mr_fdtable_install(-5, desc));
	assert_int_equal(refs_of(desc), 1);
	assert_null(mr_fdtable_acquire(-5));
	mr_desc_put(desc);
}

/* ---- ranges ----------------------------------------------------------- */

static const int sparse_fds[] = {
	5, 1000, 1 << 20, (1 << 30) + 7, INT_MAX,
};
#define NSPARSE (sizeof(sparse_fds) / sizeof(sparse_fds[0]))

/* Install a description of its own at each fd. */
static void install_each(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct mr_desc *desc = mr_desc_new(O_RDONLY);

		assert_non_null(desc);
		atomic_store(&desc->offset, fds[i]);
		assert_true(mr_fdtable_install(fds[i], desc));
		mr_desc_put(desc);
	}
}

/* Whether fd is tracked, checking it holds the description made for it. */
static bool tracked(int fd)
{
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	if (!desc)
		return false;
	assert_int_equal(atomic_load(&desc->offset), fd);
	mr_desc_put(desc);
	return true;
}

static void test_forget_range_everything(void **state)
{
	(void)state;
	install_each(sparse_fds, NSPARSE);
	assert_int_equal(mr_desc_live_count(), baseline + NSPARSE);
	for (size_t i = 0; i < NSPARSE; i++)
		assert_true(tracked(sparse_fds[i]));

	/* closefrom(0) / close_range(0, ~0U). */
	mr_fdtable_forget_range(0, ~0u);
	for (size_t i = 0; i < NSPARSE; i++)
		assert_false(tracked(sparse_fds[i]));
	assert_int_equal(mr_desc_live_count(), baseline);
}

static void test_forget_range_partial(void **state)
{
	(void)state;
	install_each(sparse_fds, NSPARSE);

	mr_fdtable_forget_range(6, 1 << 20);
	assert_true(tracked(5));
	assert_false(tracked(1000));
	assert_false(tracked(1 << 20));
	assert_true(tracked((1 << 30) + 7));
	assert_true(tracked(INT_MAX));
	assert_int_equal(mr_desc_live_count(), baseline + 3);

	/* first > last is an empty range. */
	mr_fdtable_forget_range(INT_MAX, 5);
	assert_true(tracked(5));
	assert_true(tracked(INT_MAX));

	/* Above every int: nothing to forget. */
	mr_fdtable_forget_range((unsigned int)INT_MAX + 1, ~0u);
	assert_true(tracked(INT_MAX));

	/* One-fd ranges at both ends of the table. */
	mr_fdtable_forget_range(INT_MAX, INT_MAX);
	assert_false(tracked(INT_MAX));
	assert_true(tracked((1 << 30) + 7));
	mr_fdtable_forget_range(5, 5);
	assert_false(tracked(5));

	/* A range running off the end of the table. */
	mr_fdtable_forget_range((1 << 30) + 7, ~0u);
	assert_false(tracked((1 << 30) + 7));
	assert_int_equal(mr_desc_live_count(), baseline);
}

/* The first and last fd of leaves and mid levels, and their neighbours. */
static void test_forget_range_level_edges(void **state)
{
	static const int fds[] = {
		1023, 1024, 1025, (1 << 20) - 1, 1 << 20, (1 << 20) + 1,
	};
	const size_t n = sizeof(fds) / sizeof(fds[0]);

	(void)state;
	install_each(fds, n);
	mr_fdtable_forget_range(1024, 1024);
	assert_true(tracked(1023));
	assert_false(tracked(1024));
	assert_true(tracked(1025));

	mr_fdtable_forget_range(1 << 20, 1 << 20);
	assert_true(tracked((1 << 20) - 1));
	assert_false(tracked(1 << 20));
	assert_true(tracked((1 << 20) + 1));

	mr_fdtable_forget_range(1025, (1 << 20) - 1);
	assert_true(tracked(1023));
	assert_false(tracked(1025));
	assert_false(tracked((1 << 20) - 1));
	assert_true(tracked((1 << 20) + 1));
	assert_int_equal(mr_desc_live_count(), baseline + 2);
}

/* ---- memory ----------------------------------------------------------- */

/* A "VmRSS:" style field of /proc/self/status in KiB, without malloc. */
static long status_kib(const char *field)
{
	char buf[8192];
	ssize_t len;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	const char *p;

	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(len > 0);
	buf[len] = '\0';
	p = strstr(buf, field);
	assert_non_null(p);
	return strtol(p + strlen(field), NULL, 10);
}

/*
 * Table memory must follow the fds in use, not their numbers: a program
 * with RLIMIT_NOFILE at 2^30 that dup2()s to a huge fd must not pay for
 * every slot below it. Runs first, before other tests create the levels
 * these fds need.
 */
static void test_huge_fds_stay_small(void **state)
{
	static const int fds[] = {
		INT_MAX, INT_MAX - 1, 0x55555555, 0x60000007, 0x43210000,
		(1 << 30) + 7,
	};
	static const int warm_up_fd = 7;
	const size_t n = sizeof(fds) / sizeof(fds[0]);
	long rss_before, rss_after, vm_before, vm_after;

	(void)state;
	/* Fault in the code and the first pool chunk now, so that only
	 * the table's levels are measured. */
	install_each(&warm_up_fd, 1);
	assert_true(tracked(warm_up_fd));
	mr_fdtable_forget(warm_up_fd);
	rss_before = status_kib("VmRSS:");
	vm_before = status_kib("VmSize:");
	install_each(fds, n);
	rss_after = status_kib("VmRSS:");
	vm_after = status_kib("VmSize:");
	print_message("VmRSS %ld -> %ld KiB, VmSize %ld -> %ld KiB\n",
		      rss_before, rss_after, vm_before, vm_after);
	for (size_t i = 0; i < n; i++)
		assert_true(tracked(fds[i]));
	/* Resident memory: a few pages per fd at most. */
	assert_true(rss_after - rss_before < 1024);
	/* Address space too: a flat table of 2^31 slots would reserve
	 * 16 GiB here without touching it. */
	assert_true(vm_after - vm_before < 256 * 1024);
}

/* ---- for_each --------------------------------------------------------- */

struct seen {
	int fds[16];
	struct mr_desc *descs[16];
	unsigned int n;
	bool held;
};

static void record(int fd, struct mr_desc *desc, void *arg)
{
	struct seen *seen = arg;

	/* The callback may use desc: it must hold a reference of its own
	 * besides the slot's. */
	seen->held &= atomic_load(&desc->refs) >= 2;
	if (seen->n < 16) {
		seen->fds[seen->n] = fd;
		seen->descs[seen->n] = desc;
	}
	seen->n++;
}

static void test_for_each_in_order(void **state)
{
	/* Installed out of order on purpose. */
	static const int fds[] = { INT_MAX, 70000, 0, 1024, 3, 1023 };
	static const int sorted[] = { 0, 3, 1023, 1024, 70000, INT_MAX };
	const size_t n = sizeof(fds) / sizeof(fds[0]);
	struct seen seen = { .held = true };

	(void)state;
	mr_fdtable_for_each(record, &seen);
	assert_int_equal(seen.n, 0);

	install_each(fds, n);
	mr_fdtable_for_each(record, &seen);
	assert_int_equal(seen.n, n);
	assert_true(seen.held);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(seen.fds[i], sorted[i]);
		assert_int_equal(atomic_load(&seen.descs[i]->offset),
				 sorted[i]);
	}
	/* The walk dropped every reference it took. */
	assert_int_equal(mr_desc_live_count(), baseline + n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(refs_of(seen.descs[i]), 1);

	/* Forgotten fds are no longer visited. */
	mr_fdtable_forget(1023);
	mr_fdtable_forget(INT_MAX);
	memset(&seen, 0, sizeof(seen));
	seen.held = true;
	mr_fdtable_for_each(record, &seen);
	assert_int_equal(seen.n, n - 2);
	assert_int_equal(seen.fds[0], 0);
	assert_int_equal(seen.fds[1], 3);
	assert_int_equal(seen.fds[2], 1024);
	assert_int_equal(seen.fds[3], 70000);
}

/* ---- threads ---------------------------------------------------------- */

#define HAMMER_THREADS 4
#define HAMMER_FDS 48       /* fd numbers shared by every thread */
#define HAMMER_FD_BASE 2000 /* straddles a leaf boundary at 2048 */
#define HAMMER_NSEC 300000000L

static atomic_bool hammer_stop;
static atomic_ulong hammer_bad;

/* A cheap per-thread generator: fd choices need no quality. */
static unsigned int next_rand(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

static void *hammer(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg * 2654435761u;
	unsigned long ops = 0;

	while (!atomic_load_explicit(&hammer_stop, memory_order_relaxed)) {
		int fd = HAMMER_FD_BASE + (int)(next_rand(&seed) % HAMMER_FDS);
		struct mr_desc *desc;

		switch (next_rand(&seed) % 4) {
		case 0: /* open() */
			desc = mr_desc_new(O_RDONLY);
			if (!desc) {
				atomic_fetch_add(&hammer_bad, 1);
				break;
			}
			if (!mr_fdtable_install(fd, desc))
				atomic_fetch_add(&hammer_bad, 1);
			mr_desc_put(desc);
			break;
		case 1: /* dup2() from another fd */
			desc = mr_fdtable_acquire(fd);
			if (desc) {
				int to = HAMMER_FD_BASE +
					 (int)(next_rand(&seed) % HAMMER_FDS);

				if (!mr_fdtable_install(to, desc))
					atomic_fetch_add(&hammer_bad, 1);
				mr_desc_put(desc);
			}
			break;
		case 2: /* close() */
			mr_fdtable_forget(fd);
			break;
		default: /* read(): use the description while held */
			desc = mr_fdtable_acquire(fd);
			if (desc) {
				/* A recycled or dead object would show
				 * here: we hold a reference. */
				if (atomic_load(&desc->refs) == 0)
					atomic_fetch_add(&hammer_bad, 1);
				atomic_fetch_add(&desc->offset, 1);
				mr_desc_put(desc);
			}
			break;
		}
		ops++;
	}
	return (void *)ops;
}

static void test_threads_hammer(void **state)
{
	pthread_t threads[HAMMER_THREADS];
	struct timespec pause = { 0, HAMMER_NSEC };
	unsigned long ops = 0;

	(void)state;
	atomic_store(&hammer_stop, false);
	atomic_store(&hammer_bad, 0);
	for (uintptr_t i = 0; i < HAMMER_THREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, hammer,
						(void *)(i + 1)),
				 0);
	nanosleep(&pause, NULL);
	atomic_store(&hammer_stop, true);
	for (int i = 0; i < HAMMER_THREADS; i++) {
		void *done;

		assert_int_equal(pthread_join(threads[i], &done), 0);
		ops += (unsigned long)(uintptr_t)done;
	}
	print_message("%lu operations\n", ops);
	assert_true(ops > 1000);
	assert_int_equal(atomic_load(&hammer_bad), 0);

	/* Whatever survived is still consistent, and closing it all
	 * gives every object back. */
	for (int fd = HAMMER_FD_BASE; fd < HAMMER_FD_BASE + HAMMER_FDS; fd++) {
		struct mr_desc *desc = mr_fdtable_acquire(fd);

		if (desc) {
			assert_true(refs_of(desc) >= 2);
			mr_desc_put(desc);
		}
	}
	mr_fdtable_forget_range(HAMMER_FD_BASE,
				HAMMER_FD_BASE + HAMMER_FDS - 1);
	assert_int_equal(mr_desc_live_count(), baseline);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_huge_fds_stay_small), /* first: see its comment */
		T(test_desc_new_fresh),
		T(test_desc_recycled_is_reset),
		T(test_desc_refcount),
		T(test_install_acquire_forget),
		T(test_shared_description),
		T(test_install_replaces),
		T(test_negative_fd),
		T(test_forget_range_everything),
		T(test_forget_range_partial),
		T(test_forget_range_level_edges),
		T(test_for_each_in_order),
		T(test_threads_hammer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
