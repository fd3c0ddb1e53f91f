/*
 * Shared helpers of the comparison programs (tests/programs).
 *
 * Each program is run twice by run-compare, natively and under
 * LD_PRELOAD=libmmapread.so, and both stdout transcripts must be
 * byte-identical. So stdout only ever shows what the kernel's semantics
 * decide: return values, errno names, offsets and checksums of the data.
 * Nothing that differs between runs (pids, addresses, fd numbers, paths,
 * timings) may reach stdout.
 *
 * Under the preload, mmapread_get_stats() is found with dlsym and the
 * counters go to stderr, where run-compare checks them:
 *   MMAPREAD-STATS <tag> key=value...   (the one tagged "final" is checked)
 *   MMAPREAD-CHECK <what> ok|FAIL       (any FAIL fails the test)
 */
#ifndef PROGRAMS_COMMON_H
#define PROGRAMS_COMMON_H

/* Not every program uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmapread.h"

/* errno is set to this before every call; a call that succeeds must
 * leave it alone (glibc's wrappers do, and so must mmapread). */
#define ERRNO_CANARY 12345

extern char **environ;

static const char *data_dir;
static bool data_dir_owned;
static pid_t main_pid;

/* ---- output ------------------------------------------------------------- */

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);
	static char other[32];

	if (name)
		return name;
	snprintf(other, sizeof(other), "errno%d", err);
	return other;
}

static uint64_t fnv1a(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ull;
	}
	return hash;
}

#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t sum_bytes(const void *data, size_t len)
{
	return fnv1a(FNV_INIT, data, len);
}

/* The checksum of the first n bytes that a vectored read put in iov. */
static uint64_t sum_iov(const struct iovec *iov, int iovcnt, size_t n)
{
	uint64_t hash = FNV_INIT;

	for (int i = 0; i < iovcnt && n > 0; i++) {
		size_t part = iov[i].iov_len < n ? iov[i].iov_len : n;

		hash = fnv1a(hash, iov[i].iov_base, part);
		n -= part;
	}
	return hash;
}

/* " off=N", or the errno of asking, for the description behind fd. */
static void put_offset(int fd)
{
	int saved = errno;
	off_t off;

	if (fd < 0)
		return;
	off = lseek(fd, 0, SEEK_CUR);
	if (off < 0)
		printf(" off=%s", errname(errno));
	else
		printf(" off=%lld", (long long)off);
	errno = saved;
}

/*
 * One line for one call: its label, result, errno (the name on failure,
 * a complaint if a success changed it), the offset of fd and, when buf is
 * given, the checksum of the bytes a positive result says were read.
 */
static void show(const char *label, long long ret, int err, int fd,
		 const void *buf, const struct iovec *iov, int iovcnt)
{
	printf("%s = %lld", label, ret);
	if (ret < 0)
		printf(" %s", errname(err));
	else if (err != ERRNO_CANARY)
		printf(" ERRNO-CHANGED-ON-SUCCESS:%s", errname(err));
	if (ret > 0 && buf)
		printf(" sum=%016" PRIx64, sum_bytes(buf, (size_t)ret));
	if (ret > 0 && iov)
		printf(" sum=%016" PRIx64, sum_iov(iov, iovcnt, (size_t)ret));
	put_offset(fd);
	putchar('\n');
}

/*
 * DO(fd, buf, call, "label fmt", ...): make the call with errno set to the
 * canary, print it (see show()) and yield its result as long long.
 * DOV is the same for vectored reads: the checksum covers iov in order.
 */
#define DO(fd, buf, call, ...) \
	DO_SHOW(fd, buf, NULL, 0, call, __VA_ARGS__)
#define DOV(fd, iov, iovcnt, call, ...) \
	DO_SHOW(fd, NULL, iov, iovcnt, call, __VA_ARGS__)

#define DO_SHOW(fd, buf, iov, iovcnt, call, ...)                       \
	({                                                             \
		char lbl_[256];                                        \
		long long r_;                                          \
		int e_;                                                \
		snprintf(lbl_, sizeof(lbl_), __VA_ARGS__);             \
		errno = ERRNO_CANARY;                                  \
		r_ = (long long)(call);                                \
		e_ = errno;                                            \
		show(lbl_, r_, e_, (fd), (buf), (iov), (iovcnt));      \
		r_;                                                    \
	})

static void section(const char *title)
{
	printf("\n== %s\n", title);
}

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	printf("SETUP FAILED: ");
	vprintf(fmt, ap);
	printf(" (%s)\n", errname(err));
	va_end(ap);
	fflush(stdout);
	exit(2);
}

/*
 * Fork a child for a step that may kill its process: the caller runs the
 * step when this returns 0, then calls _exit(0). No core files.
 */
static pid_t fork_child(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
	}
	return pid;
}

/* Wait for a fork_child() and print how it ended, as "<label>: ...". */
static void report_child(pid_t pid, const char *label)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (WIFSIGNALED(status))
		printf("%s: killed by signal %d (%s)\n", label,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		printf("%s: exited %d\n", label, WEXITSTATUS(status));
}

/* ---- mmapread's counters (stderr, under the preload only) ---------------- */

typedef int (*get_stats_fn)(struct mmapread_stats *);

/* The preload's statistics call, or NULL when running natively. */
static get_stats_fn stats_fn(void)
{
	static get_stats_fn fn;
	static bool looked;

	if (!looked) {
		fn = (get_stats_fn)dlsym(RTLD_DEFAULT, "mmapread_get_stats");
		looked = true;
	}
	return fn;
}

/* The library's short name for a fallback reason (under the preload). */
static const char *fallback_name(int reason)
{
	static const char *(*fn)(int);
	static bool looked;

	if (!looked) {
		fn = (const char *(*)(int))dlsym(RTLD_DEFAULT,
						 "mmapread_fallback_name");
		looked = true;
	}
	return fn ? fn(reason) : NULL;
}

static bool under_preload(void)
{
	return stats_fn() != NULL;
}

/* Fill *s; false when running natively. */
static bool get_stats(struct mmapread_stats *s)
{
	get_stats_fn fn = stats_fn();

	memset(s, 0, sizeof(*s));
	return fn && fn(s) == 0;
}

static uint64_t served_total(const struct mmapread_stats *s)
{
	return s->reads_served + s->preads_served + s->readvs_served;
}

static void dump_stats(const char *tag)
{
	struct mmapread_stats s;

	if (!get_stats(&s))
		return;
	fflush(stdout);
	fprintf(stderr,
		"MMAPREAD-STATS %s served=%" PRIu64 " reads=%" PRIu64
		" preads=%" PRIu64 " readvs=%" PRIu64 " lseeks=%" PRIu64
		" bytes_served=%" PRIu64 " files_mapped=%" PRIu64
		" stdio_reads=%" PRIu64 " stdio_refills=%" PRIu64,
		tag, served_total(&s), s.reads_served, s.preads_served,
		s.readvs_served, s.lseeks_served, s.bytes_served,
		s.files_mapped, s.stdio_reads, s.stdio_refills);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		const char *key = fallback_name(i);

		if (key)
			fprintf(stderr, " fb.%s=%" PRIu64, key, s.fallbacks[i]);
		else
			fprintf(stderr, " fb.%d=%" PRIu64, i, s.fallbacks[i]);
	}
	fputc('\n', stderr);
}

/* A preload-only assertion, reported on stderr for run-compare. */
static void preload_check(const char *what, bool ok)
{
	if (!under_preload())
		return;
	fprintf(stderr, "MMAPREAD-CHECK %s %s\n", what, ok ? "ok" : "FAIL");
}

/* ---- data files --------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void helper_stop(void);

static void at_exit(void)
{
	if (getpid() != main_pid)
		return;
	helper_stop();
	dump_stats("final");
	if (data_dir_owned)
		nftw(data_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The data directory is argv[1] when run-compare gives one, else a fresh
 * one that is removed at exit. stdout is line-buffered, so a fork never
 * duplicates pending output and stderr lines interleave sensibly.
 */
static void setup(int argc, char **argv)
{
	static char tmpl[] = "/tmp/mmapread-prog-XXXXXX";

	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	if (argc > 1) {
		data_dir = argv[1];
	} else {
		data_dir = mkdtemp(tmpl);
		if (!data_dir)
			die("mkdtemp");
		data_dir_owned = true;
	}
	atexit(at_exit);
}

/* data_dir/name, in one of a few rotating buffers. */
static const char *dpath(const char *name)
{
	static char bufs[4][4096];
	static int next;
	char *buf = bufs[next++ % 4];

	snprintf(buf, sizeof(bufs[0]), "%s/%s", data_dir, name);
	return buf;
}

/* The byte at offset off of a pattern; some bytes are zero on purpose. */
static unsigned char pattern_byte(uint64_t off, unsigned int seed)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ (seed * 0xbf58476d1ce4e5b9ull);

	x ^= x >> 29;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 32;
	return (unsigned char)x;
}

static void fill_pattern(unsigned char *buf, uint64_t off, size_t len,
			 unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(off + i, seed);
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			die("write");
		p += n;
		len -= (size_t)n;
	}
}

/* Append len pattern bytes (positions from off) to fd. */
static void append_pattern(int fd, uint64_t off, size_t len,
			   unsigned int seed)
{
	static unsigned char chunk[65536];

	while (len > 0) {
		size_t part = len < sizeof(chunk) ? len : sizeof(chunk);

		fill_pattern(chunk, off, part, seed);
		write_all(fd, chunk, part);
		off += part;
		len -= part;
	}
}

/* Create (or replace) data_dir/name with size pattern bytes. */
static void make_file(const char *name, size_t size, unsigned int seed)
{
	int fd = open(dpath(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);

	if (fd < 0)
		die("create %s", name);
	append_pattern(fd, 0, size, seed);
	if (close(fd) != 0)
		die("close %s", name);
}

static int open_ro(const char *name)
{
	int fd = open(dpath(name), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("open %s", name);
	return fd;
}

/*
 * Record files, for the races: n little-endian uint32 records, record i
 * holding the number first + i. A reader that checks each record it gets
 * sees at once whether one was skipped or delivered twice.
 */
static void append_records(int fd, uint32_t first, uint32_t n)
{
	static uint32_t chunk[16384];

	while (n > 0) {
		uint32_t part = n < 16384 ? n : 16384;

		for (uint32_t i = 0; i < part; i++)
			chunk[i] = first + i;
		write_all(fd, chunk, part * sizeof(uint32_t));
		first += part;
		n -= part;
	}
}

static void make_records(const char *name, uint32_t n)
{
	int fd = open(dpath(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);

	if (fd < 0)
		die("create %s", name);
	append_records(fd, 0, n);
	if (close(fd) != 0)
		die("close %s", name);
}

/*
 * Waiting, in the races: they need both sides on a CPU at once, and a
 * thread woken from a futex may arrive after a whole round is over; so a
 * waiter spins for up to SPIN_NS first, then sleeps on a futex, so that a
 * machine busy with other work does not lose whole time slices to it.
 */
#define SPIN_NS 20000ll

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void wake_all(_Atomic int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Wait until *word is no longer old; false if bound_ns (0: none) ran out.
 * Async-signal-safe.
 */
static bool wait_change(_Atomic int *word, int old, long long bound_ns)
{
	long long start = mono_ns(), waited;
	unsigned int n = 0;

	while (atomic_load(word) == old) {
		struct timespec left, *timeout = NULL;

		if (++n % 64) {
			__builtin_ia32_pause();
			continue;
		}
		waited = mono_ns() - start;
		if (bound_ns && waited >= bound_ns)
			return false;
		if (waited < SPIN_NS)
			continue;
		if (bound_ns) {
			left.tv_sec = (bound_ns - waited) / 1000000000ll;
			left.tv_nsec = (bound_ns - waited) % 1000000000ll;
			timeout = &left;
		}
		syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, old, timeout,
			NULL, 0);
	}
	return true;
}

static void flag_raise(_Atomic int *flag)
{
	atomic_store(flag, 1);
	wake_all(flag);
}

static void wait_flag(_Atomic int *flag)
{
	wait_change(flag, 0, 0);
}

struct race_barrier {
	_Atomic int count;
	_Atomic int generation;
	int parties;
};

#define RACE_BARRIER_INIT(n) { 0, 0, (n) }

static void race_barrier_wait(struct race_barrier *b)
{
	int gen = atomic_load(&b->generation);

	if (atomic_fetch_add(&b->count, 1) + 1 == b->parties) {
		atomic_store(&b->count, 0);
		atomic_fetch_add(&b->generation, 1);
		wake_all(&b->generation);
		return;
	}
	wait_change(&b->generation, gen, 0);
}

/*
 * Pauses: a race of a few instructions rarely shows while the threads are
 * time-sliced on a loaded machine. A pause widens it: a timer interrupts a
 * chosen thread wherever it is (inside mmapread, most of the time), and the
 * handler waits there, up to a bound, until another thread calls
 * pause_release() (it returns at once while pause_on is 0: nobody would).
 * Natively this is invisible, as the kernel holds nothing of the file
 * across a signal handler; and a library that must wait for the paused
 * thread only loses the bound.
 */
#define PAUSE_SIGNAL SIGUSR2
#define PAUSE_BOUND_NS 2000000ll /* 2 ms */

static _Atomic int pause_count;    /* pauses taken */
static _Atomic int pause_releases; /* pause_release() calls */
static _Atomic int pause_on = 1;

static void pause_release(void)
{
	atomic_fetch_add(&pause_releases, 1);
	wake_all(&pause_releases);
}

static void pause_handler(int sig)
{
	int saved_errno = errno;
	int releases = atomic_load(&pause_releases);

	(void)sig;
	if (!atomic_load(&pause_on))
		return;
	atomic_fetch_add(&pause_count, 1);
	wake_all(&pause_count);
	wait_change(&pause_releases, releases, PAUSE_BOUND_NS);
	errno = saved_errno;
}

/* A timer whose expiries pause the calling thread (disarmed). */
static timer_t pause_timer_here(void)
{
	struct sigaction sa;
	struct sigevent sev;
	timer_t timer;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pause_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(PAUSE_SIGNAL, &sa, NULL) != 0)
		die("sigaction(PAUSE_SIGNAL)");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = PAUSE_SIGNAL;
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0)
		die("timer_create");
	return timer;
}

/* First expiry after first_ns, then every every_ns (0: once; 0, 0: off). */
static void pause_timer_set(timer_t timer, long first_ns, long every_ns)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = first_ns;
	its.it_interval.tv_nsec = every_ns;
	if (timer_settime(timer, 0, &its, NULL) != 0)
		die("timer_settime");
}

/*
 * A hang must fail the test, not wait for meson's timeout: after seconds,
 * SIGALRM says so on stdout (which then differs) and ends the process.
 * Programs that use SIGALRM themselves need another watchdog.
 */
static void watchdog_fired(int sig)
{
	static const char msg[] = "WATCHDOG: still running, the program hung\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(4);
	_exit(3);
}

static void watchdog(unsigned int seconds)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fired;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die("sigaction(SIGALRM)");
	alarm(seconds);
}

/*
 * Truncation by another process.
 *
 * mmapread hands every description back to the kernel when the program
 * forks, spawns or execs (its offsets would be shared), so a truncating
 * process started while a file is mapped would leave nothing mapped to test.
 * The helper is therefore forked once, before anything is mapped, and waits
 * on a pipe for orders: "truncate this path to this size". It only reads
 * the pipe (not a tracked fd) and calls truncate(2).
 */
struct helper_order {
	long long size;
	char path[4096];
};

static int helper_cmd = -1, helper_reply = -1;
static pid_t helper_pid = -1;

static void helper_loop(int cmd, int reply)
{
	struct helper_order order;

	for (;;) {
		size_t got = 0;
		int err;

		while (got < sizeof(order)) {
			ssize_t n = read(cmd, (char *)&order + got,
					 sizeof(order) - got);

			if (n <= 0)
				_exit(0);
			got += (size_t)n;
		}
		err = truncate(order.path, order.size) == 0 ? 0 : errno;
		if (write(reply, &err, sizeof(err)) != sizeof(err))
			_exit(1);
	}
}

static void helper_start(void)
{
	int cmd[2], reply[2];

	if (helper_pid > 0)
		return;
	if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(reply, O_CLOEXEC) != 0)
		die("pipe for the helper");
	fflush(stdout);
	fflush(stderr);
	helper_pid = fork();
	if (helper_pid < 0)
		die("fork the helper");
	if (helper_pid == 0) {
		close(cmd[1]);
		close(reply[0]);
		helper_loop(cmd[0], reply[1]);
	}
	close(cmd[0]);
	close(reply[1]);
	helper_cmd = cmd[1];
	helper_reply = reply[0];
}

static void helper_stop(void)
{
	int status;

	if (helper_pid <= 0)
		return;
	close(helper_cmd);
	close(helper_reply);
	waitpid(helper_pid, &status, 0);
	helper_pid = -1;
}

/* Truncate a data file to size, done by the helper process. */
static void truncate_by_other_process(const char *name, long long size)
{
	struct helper_order order;
	size_t got = 0;
	int err = 0;

	if (helper_pid <= 0)
		die("the helper process was not started");
	memset(&order, 0, sizeof(order));
	order.size = size;
	snprintf(order.path, sizeof(order.path), "%s", dpath(name));
	write_all(helper_cmd, &order, sizeof(order));
	while (got < sizeof(err)) {
		ssize_t n = read(helper_reply, (char *)&err + got,
				 sizeof(err) - got);

		if (n <= 0)
			die("no reply from the helper");
		got += (size_t)n;
	}
	printf("[another process] truncate(%s, %lld) = %s\n", name, size,
	       err ? errname(err) : "0");
}

#endif
