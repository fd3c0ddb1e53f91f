/*
 * Calls every libc name mmapread exports, each by its exact symbol, and
 * prints what each call returned (and a hash of the bytes it read) on
 * stdout. compare.py runs it natively and under the preload: stdout must
 * be identical.
 *
 * Under the preload it also proves each name reached mmapread: the live
 * counters (mmapread_get_stats, looked up with dlsym so that the native
 * run needs no library) are read around the call and their change is
 * printed on stderr as a "reach NAME ..." line, which compare.py checks.
 *
 * Every name is called through a declaration with an asm label, so the
 * compiler emits a reference to exactly that symbol whatever
 * _FILE_OFFSET_BITS and _FORTIFY_SOURCE do to the header's names; the
 * "natural" section at the end lets the fortified headers pick the name
 * (__open64_2, __read_chk, __pread64_chk) as an ordinary program would.
 *
 * Usage: call_every_name DIR, where DIR holds "a" (at least 1 MiB) and "b"
 * (different bytes, at least 64 KiB); files "creat1" and "creat2" are
 * created there.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mmapread.h"

extern int x_open(const char *, int, ...) __asm__("open");
extern int x_open64(const char *, int, ...) __asm__("open64");
extern int x_openat(int, const char *, int, ...) __asm__("openat");
extern int x_openat64(int, const char *, int, ...) __asm__("openat64");
extern int x___open_2(const char *, int) __asm__("__open_2");
extern int x___open64_2(const char *, int) __asm__("__open64_2");
extern int x___openat_2(int, const char *, int) __asm__("__openat_2");
extern int x___openat64_2(int, const char *, int) __asm__("__openat64_2");
extern int x_creat(const char *, mode_t) __asm__("creat");
extern int x_creat64(const char *, mode_t) __asm__("creat64");
extern ssize_t x_read(int, void *, size_t) __asm__("read");
extern ssize_t x___read_chk(int, void *, size_t, size_t)
	__asm__("__read_chk");
extern ssize_t x_pread(int, void *, size_t, long) __asm__("pread");
extern ssize_t x_pread64(int, void *, size_t, long) __asm__("pread64");
extern ssize_t x___pread_chk(int, void *, size_t, long, size_t)
	__asm__("__pread_chk");
extern ssize_t x___pread64_chk(int, void *, size_t, long, size_t)
	__asm__("__pread64_chk");
extern ssize_t x_readv(int, const struct iovec *, int) __asm__("readv");
extern ssize_t x_preadv(int, const struct iovec *, int, long)
	__asm__("preadv");
extern ssize_t x_preadv64(int, const struct iovec *, int, long)
	__asm__("preadv64");
extern ssize_t x_preadv2(int, const struct iovec *, int, long, int)
	__asm__("preadv2");
extern ssize_t x_preadv64v2(int, const struct iovec *, int, long, int)
	__asm__("preadv64v2");
extern long x_lseek(int, long, int) __asm__("lseek");
extern long x_lseek64(int, long, int) __asm__("lseek64");
extern int x_close(int) __asm__("close");
extern int x_close_range(unsigned int, unsigned int, int)
	__asm__("close_range");
extern void x_closefrom(int) __asm__("closefrom");
extern int x_dup(int) __asm__("dup");
extern int x_dup2(int, int) __asm__("dup2");
extern int x_dup3(int, int, int) __asm__("dup3");
extern int x_fcntl(int, int, ...) __asm__("fcntl");
extern int x_fcntl64(int, int, ...) __asm__("fcntl64");

#define WARM_READS 3
#define WARM_SIZE 512

static char path_a[4096], path_b[4096], path_c1[4096], path_c2[4096];
static int (*get_stats)(struct mmapread_stats *);
static struct mmapread_stats before;
static unsigned char buf[65536];

static uint64_t fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* "ret=N hash=H" for a read-like result, or "ret=-1 errno=NAME". */
static void show(const char *what, long ret, const void *data)
{
	if (ret < 0)
		printf("%s: ret=%ld errno=%s\n", what, ret, strerrorname_np(errno));
	else if (data)
		printf("%s: ret=%ld hash=%016llx\n", what, ret,
		       (unsigned long long)fnv1a(data, (size_t)ret));
	else
		printf("%s: ret=%ld\n", what, ret);
}

static void show_fd(const char *what, int fd)
{
	if (fd < 0)
		printf("%s: fd=-1 errno=%s\n", what, strerrorname_np(errno));
	else
		printf("%s: fd>=0\n", what);
}

static void snap(void)
{
	if (get_stats)
		get_stats(&before);
}

/* Print how the counters moved since snap(); nothing when native. */
static void reach(const char *name)
{
	struct mmapread_stats now;

	if (!get_stats)
		return;
	get_stats(&now);
	fprintf(stderr,
		"reach %s reads=%llu preads=%llu readvs=%llu lseeks=%llu "
		"mapped=%llu access_fb=%llu\n",
		name,
		(unsigned long long)(now.reads_served - before.reads_served),
		(unsigned long long)(now.preads_served - before.preads_served),
		(unsigned long long)(now.readvs_served - before.readvs_served),
		(unsigned long long)(now.lseeks_served - before.lseeks_served),
		(unsigned long long)(now.files_mapped - before.files_mapped),
		(unsigned long long)(now.fallbacks[MMAPREAD_FB_ACCESS_MODE] -
				     before.fallbacks[MMAPREAD_FB_ACCESS_MODE]));
}

/* Three small reads: enough for mmapread to map "a" (1 MiB and more). */
static void warm(const char *what, int fd)
{
	char label[128];

	for (int i = 0; i < WARM_READS; i++) {
		ssize_t n = x_read(fd, buf, WARM_SIZE);

		snprintf(label, sizeof(label), "%s warm read %d", what, i);
		show(label, n, buf);
	}
}

static int mapped_fd(const char *what)
{
	int fd = x_open(path_a, O_RDONLY);

	if (fd < 0) {
		perror(path_a);
		exit(2);
	}
	warm(what, fd);
	return fd;
}

static void show_offset(const char *what, int fd)
{
	char label[128];

	snprintf(label, sizeof(label), "%s offset", what);
	show(label, x_lseek(fd, 0, SEEK_CUR), NULL);
}

/* ---- opening ------------------------------------------------------------ */

static void after_open(const char *name, int fd)
{
	show_fd(name, fd);
	if (fd < 0)
		return;
	warm(name, fd);
	reach(name);
	show_offset(name, fd);
	x_close(fd);
}

static void test_opens(void)
{
	const char *rel = strrchr(path_a, '/') + 1;
	char dir[4096];
	int flags = O_RDONLY | O_CLOEXEC;
	int dirfd;

	snprintf(dir, sizeof(dir), "%.*s", (int)(rel - path_a), path_a);
	dirfd = x_open(dir, O_RDONLY | O_DIRECTORY);
	show_fd("open directory", dirfd);

	snap();
	after_open("open", x_open(path_a, flags));
	snap();
	after_open("open64", x_open64(path_a, flags));
	snap();
	after_open("openat", x_openat(dirfd, rel, flags));
	snap();
	after_open("openat64", x_openat64(AT_FDCWD, path_a, flags));
	snap();
	after_open("__open_2", x___open_2(path_a, flags));
	snap();
	after_open("__open64_2", x___open64_2(path_a, flags));
	snap();
	after_open("__openat_2", x___openat_2(dirfd, rel, flags));
	snap();
	after_open("__openat64_2", x___openat64_2(dirfd, rel, flags));
	x_close(dirfd);

	/* A missing file: the error must be the kernel's. */
	show_fd("open missing", x_open("/nonexistent/mmapread-integ", O_RDONLY));
}

static void after_creat(const char *name, const char *path, int fd)
{
	struct stat st;

	show_fd(name, fd);
	reach(name);
	if (fd < 0)
		return;
	show("write to created", write(fd, "hello\n", 6), NULL);
	/* A write-only fd: reading it is EBADF, natively and served. */
	show("read write-only", x_read(fd, buf, 16), buf);
	x_close(fd);
	if (stat(path, &st) == 0)
		printf("%s: size=%lld\n", name, (long long)st.st_size);
}

static void test_creats(void)
{
	snap();
	after_creat("creat", path_c1, x_creat(path_c1, 0600));
	snap();
	after_creat("creat64", path_c2, x_creat64(path_c2, 0600));
}

/* ---- reading ------------------------------------------------------------ */

static void test_reads(void)
{
	struct iovec iov[3];
	int fd = mapped_fd("reads");
	ssize_t n;

	snap();
	n = x_read(fd, buf, 4096);
	show("read", n, buf);
	reach("read");

	snap();
	n = x___read_chk(fd, buf, 4096, sizeof(buf));
	show("__read_chk", n, buf);
	reach("__read_chk");
	show_offset("after reads", fd);

	snap();
	n = x_pread(fd, buf, 4096, 100000);
	show("pread", n, buf);
	reach("pread");

	snap();
	n = x_pread64(fd, buf, 4096, 100001);
	show("pread64", n, buf);
	reach("pread64");

	snap();
	n = x___pread_chk(fd, buf, 4096, 100002, sizeof(buf));
	show("__pread_chk", n, buf);
	reach("__pread_chk");

	snap();
	n = x___pread64_chk(fd, buf, 4096, 100003, sizeof(buf));
	show("__pread64_chk", n, buf);
	reach("__pread64_chk");
	show_offset("after preads", fd);

	iov[0] = (struct iovec){ buf, 100 };
	iov[1] = (struct iovec){ buf + 100, 1000 };
	iov[2] = (struct iovec){ buf + 1100, 3000 };

	snap();
	n = x_readv(fd, iov, 3);
	show("readv", n, buf);
	reach("readv");
	show_offset("after readv", fd);

	snap();
	n = x_preadv(fd, iov, 3, 200000);
	show("preadv", n, buf);
	reach("preadv");

	snap();
	n = x_preadv64(fd, iov, 3, 200001);
	show("preadv64", n, buf);
	reach("preadv64");

	snap();
	n = x_preadv2(fd, iov, 3, 300000, 0);
	show("preadv2", n, buf);
	reach("preadv2");

	/* Offset -1: at and moving the file offset, like readv. */
	snap();
	n = x_preadv64v2(fd, iov, 3, -1, 0);
	show("preadv64v2", n, buf);
	reach("preadv64v2");
	show_offset("after preadvs", fd);

	/* Kernel answers that a served call must give too. */
	n = x_pread(fd, buf, 16, -1);
	show("pread negative offset", n, NULL);
	n = x_read(fd, buf, 0);
	show("read zero bytes", n, NULL);
	x_close(fd);
}

static void test_seeks(void)
{
	int fd = mapped_fd("seeks");
	long off;
	ssize_t n;

	snap();
	off = x_lseek(fd, 5000, SEEK_SET);
	show("lseek SEEK_SET 5000", off, NULL);
	reach("lseek");

	snap();
	off = x_lseek64(fd, 10, SEEK_CUR);
	show("lseek64 SEEK_CUR +10", off, NULL);
	reach("lseek64");
	n = x_read(fd, buf, 1000);
	show("read after seeks", n, buf);

	off = x_lseek64(fd, -3, SEEK_END);
	show("lseek64 SEEK_END -3", off, NULL);
	n = x_read(fd, buf, 4096);
	show("read the last 3 bytes", n, buf);
	n = x_read(fd, buf, 4096);
	show("read at end of file", n, buf);

	off = x_lseek(fd, -1, SEEK_SET);
	show("lseek negative", off, NULL);
	show_offset("after failed lseek", fd);
	off = x_lseek(fd, 1 << 30, SEEK_SET);
	show("lseek past end of file", off, NULL);
	n = x_read(fd, buf, 4096);
	show("read past end of file", n, buf);
	off = x_lseek(fd, 42, SEEK_SET);
	show("lseek back to 42", off, NULL);
	n = x_read(fd, buf, 512);
	show("read at 42", n, buf);
	x_close(fd);
}

/* ---- sharing: a read through the new fd uses the same offset ------------ */

static void after_dup(const char *name, int fd, int newfd)
{
	char label[128];
	ssize_t n;

	show_fd(name, newfd);
	if (newfd < 0)
		return;
	snap();
	n = x_read(newfd, buf, 4096);
	snprintf(label, sizeof(label), "read through %s", name);
	show(label, n, buf);
	reach(name);
	snprintf(label, sizeof(label), "%s shared", name);
	show_offset(label, fd);
	printf("%s cloexec: %d\n", name, x_fcntl(newfd, F_GETFD) & FD_CLOEXEC);
	x_close(newfd);
	/* The description lives on in fd. */
	n = x_read(fd, buf, 4096);
	snprintf(label, sizeof(label), "read after closing the %s copy", name);
	show(label, n, buf);
}

static void test_dups(void)
{
	int fd = mapped_fd("dups");
	int fresh;

	/* Closing a mapped copy, or dup2'ing a mapped description, hands it
	 * back to the kernel (a read racing the call must find the kernel's
	 * offset right), so each name gets its own description, and those
	 * given by dup2/dup3 are mapped through their new number. */
	after_dup("dup", fd, x_dup(fd));
	fresh = x_open(path_a, O_RDONLY);
	show("dup2 of a fresh open", x_dup2(fresh, 50), NULL);
	warm("dup2", 50);
	after_dup("dup2", fresh, 50);
	x_close(fresh);
	fresh = x_open(path_a, O_RDONLY);
	show("dup3 of a fresh open", x_dup3(fresh, 51, O_CLOEXEC), NULL);
	warm("dup3", 51);
	after_dup("dup3", fresh, 51);
	x_close(fresh);
	fresh = mapped_fd("dupsf");
	after_dup("fcntl", fresh, x_fcntl(fresh, F_DUPFD, 60));
	x_close(fresh);
	fresh = mapped_fd("dupsf64");
	after_dup("fcntl64", fresh, x_fcntl64(fresh, F_DUPFD_CLOEXEC, 70));
	x_close(fresh);
	show("dup2 onto itself", x_dup2(fd, fd), NULL);
	show("dup3 onto itself", x_dup3(fd, fd, 0), NULL);
	show("dup of a closed fd", x_dup(555), NULL);
	x_close(fd);
}

/* ---- closing: a number reused behind mmapread's back must not be served
 * from the old file's mapping ------------------------------------------- */

/* Put "b" at number fd without going through any interposed name. */
static void raw_reopen_b(int fd)
{
	long raw = syscall(SYS_openat, AT_FDCWD, path_b, O_RDONLY);

	if (raw < 0) {
		perror(path_b);
		exit(2);
	}
	if (raw != fd) {
		syscall(SYS_dup3, (int)raw, fd, 0);
		syscall(SYS_close, (int)raw);
	}
}

static void after_close(const char *name, int fd)
{
	char label[128];
	ssize_t n;

	raw_reopen_b(fd);
	snap();
	n = x_read(fd, buf, 4096);
	snprintf(label, sizeof(label), "read the reused number after %s", name);
	show(label, n, buf);
	reach(name);
	syscall(SYS_close, fd);
}

static void test_closes(void)
{
	int fd;

	fd = mapped_fd("close");
	show("close", x_close(fd), NULL);
	after_close("close", fd);
	show("close again", x_close(fd), NULL);

	fd = mapped_fd("close_range");
	show("close_range", x_close_range((unsigned int)fd, (unsigned int)fd, 0),
	     NULL);
	after_close("close_range", fd);
	show("close_range bad", x_close_range(9, 8, 0), NULL);

	/* Last: closefrom also closes the report's copy of stderr. */
	fd = mapped_fd("closefrom");
	show("dup2 to 200", x_dup2(fd, 200), NULL);
	x_close(fd);
	x_closefrom(200);
	printf("closefrom: done\n");
	after_close("closefrom", 200);
}

/* ---- as a fortified program calls them --------------------------------- */

static void test_natural(int argc)
{
	/* Flags the compiler cannot see: open becomes __open64_2. */
	int flags = argc > 5 ? O_RDWR : O_RDONLY;
	size_t count = argc > 5 ? 1 : 512;
	int fd = open(path_a, flags);
	ssize_t n;

	show_fd("natural open", fd);
	snap();
	for (int i = 0; i < 4; i++) {
		/* A known buffer size and an unknown count: __read_chk. */
		n = read(fd, buf, count);
		show("natural read", n, buf);
	}
	n = pread(fd, buf, count * 2, 777);
	show("natural pread", n, buf);
	reach("natural");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	snprintf(path_a, sizeof(path_a), "%s/a", argv[1]);
	snprintf(path_b, sizeof(path_b), "%s/b", argv[1]);
	snprintf(path_c1, sizeof(path_c1), "%s/creat1", argv[1]);
	snprintf(path_c2, sizeof(path_c2), "%s/creat2", argv[1]);
	*(void **)&get_stats = dlsym(RTLD_DEFAULT, "mmapread_get_stats");

	test_opens();
	test_creats();
	test_reads();
	test_seeks();
	test_dups();
	test_natural(argc);
	test_closes();
	return 0;
}
