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
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
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
#define DO(fd, buf, call, ...)                                         \
	({                                                             \
		char lbl_[256];                                        \
		long long r_;                                          \
		int e_;                                                \
		snprintf(lbl_, sizeof(lbl_), __VA_ARGS__);             \
		errno = ERRNO_CANARY;                                  \
		r_ = (long long)(call);                                \
		e_ = errno;                                            \
		show(lbl_, r_, e_, (fd), (buf), NULL, 0);              \
		r_;                                                    \
	})

#define DOV(fd, iov, iovcnt, call, ...)                                \
	({                                                             \
		char lbl_[256];                                        \
		long long r_;                                          \
		int e_;                                                \
		snprintf(lbl_, sizeof(lbl_), __VA_ARGS__);             \
		errno = ERRNO_CANARY;                                  \
		r_ = (long long)(call);                                \
		e_ = errno;                                            \
		show(lbl_, r_, e_, (fd), NULL, (iov), (iovcnt));       \
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

/* ---- mmapread's counters (stderr, under the preload only) ---------------- */

static const char *const fallback_keys[MMAPREAD_FB_COUNT] = {
	[MMAPREAD_FB_ACCESS_MODE] = "access_mode",
	[MMAPREAD_FB_O_DIRECT] = "o_direct",
	[MMAPREAD_FB_NOT_REGULAR] = "not_regular",
	[MMAPREAD_FB_PSEUDO_FS] = "pseudo_fs",
	[MMAPREAD_FB_EMPTY] = "empty",
	[MMAPREAD_FB_WONT_PAY] = "wont_pay",
	[MMAPREAD_FB_READ_AT_ONCE] = "read_at_once",
	[MMAPREAD_FB_TOO_LARGE] = "too_large",
	[MMAPREAD_FB_FSTAT_FAILED] = "fstat_failed",
	[MMAPREAD_FB_MMAP_FAILED] = "mmap_failed",
	[MMAPREAD_FB_TRUNCATED] = "truncated",
	[MMAPREAD_FB_PAST_MAPPING] = "past_mapping",
	[MMAPREAD_FB_UNUSUAL_CALL] = "unusual_call",
	[MMAPREAD_FB_BAD_BUFFER] = "bad_buffer",
	[MMAPREAD_FB_KERNEL_USE] = "kernel_use",
	[MMAPREAD_FB_SHARED] = "shared",
	[MMAPREAD_FB_TABLE_FULL] = "table_full",
};

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
		" bytes_served=%" PRIu64 " files_mapped=%" PRIu64,
		tag, served_total(&s), s.reads_served, s.preads_served,
		s.readvs_served, s.lseeks_served, s.bytes_served,
		s.files_mapped);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		if (fallback_keys[i])
			fprintf(stderr, " fb.%s=%" PRIu64, fallback_keys[i],
				s.fallbacks[i]);
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
