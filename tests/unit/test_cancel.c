/*
 * Cancellation cleanups: a thread cancelled while blocked in the core's
 * read() must give back the reference it holds on the description.
 *
 * The cleanups are -fexceptions cleanup handlers, run by libgcc_s's
 * unwinder through the personality routine; libgcc_s is not linked (see
 * preload/unwind.c), so this also checks that the routine is found when
 * the unwind needs it. This executable links the core directly and calls
 * libc's pthread_cancel(), so nothing binds the unwinder ahead: the
 * personality routine has to find it on its own. A skipped cleanup leaves
 * one description alive after the fd is closed.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "mr_core.h"
#include "mr_desc.h"

struct reader {
	int fd;
	bool use_readv;
	_Atomic pid_t tid;
};

static void *blocked_reader(void *arg)
{
	struct reader *r = arg;
	char buf[100];
	struct iovec iov = { buf, sizeof(buf) };

	atomic_store(&r->tid, (pid_t)syscall(SYS_gettid));
	if (r->use_readv)
		mr_readv(r->fd, &iov, 1);
	else
		mr_read(r->fd, buf, sizeof(buf));
	return NULL;
}

/* The thread's state letter from /proc, or 0. */
static char thread_state(pid_t tid)
{
	char path[64], line[512], *close_paren;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	close_paren = strrchr(line, ')');
	return close_paren && close_paren[1] ? close_paren[2] : 0;
}

static void cancel_blocked_read(bool use_readv)
{
	char dir[] = "/tmp/mmapread-cancel-XXXXXX", path[64];
	struct reader r = { .use_readv = use_readv };
	uint32_t baseline = mr_desc_live_count();
	struct timespec pause = { 0, 1000000 };
	pthread_t thread;
	void *result;
	int tries;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* O_RDWR: a FIFO opened so needs no other end to open, and a read
	 * of it blocks. */
	r.fd = mr_open(path, O_RDWR, 0);
	assert_true(r.fd >= 0);
	assert_int_equal(mr_desc_live_count(), baseline + 1);

	assert_int_equal(pthread_create(&thread, NULL, blocked_reader, &r), 0);
	/* Cancel only once the reader sleeps inside the read: cancelled on
	 * entry, it would hold nothing yet. */
	for (tries = 0; tries < 5000; tries++) {
		pid_t tid = atomic_load(&r.tid);

		if (tid && thread_state(tid) == 'S')
			break;
		nanosleep(&pause, NULL);
	}
	assert_true(tries < 5000);
	assert_int_equal(pthread_cancel(thread), 0);
	assert_int_equal(pthread_join(thread, &result), 0);
	assert_ptr_equal(result, PTHREAD_CANCELED);

	assert_int_equal(mr_close(r.fd), 0);
	assert_int_equal(mr_desc_live_count(), baseline);
	unlink(path);
	rmdir(dir);
}

static void test_cancel_in_read(void **state)
{
	(void)state;
	cancel_blocked_read(false);
}

static void test_cancel_in_readv(void **state)
{
	(void)state;
	cancel_blocked_read(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_in_read),
		cmocka_unit_test(test_cancel_in_readv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
