/*
 * fallbacks: a program whose reads mmapread must leave to the kernel, for
 * the report tests (tests/report/report.py).
 *
 * The schema test needs real documents with a "fallbacks" object in them,
 * and one that ends through _exit() (the report then comes from mmapread's
 * _exit wrapper, not from the exit handlers). So, in DIR:
 *   - a FIFO read one byte at a time (not a regular file);
 *   - /proc/filesystems read one byte at a time (a pseudo file of size 0);
 *   - a file read in 64-byte pieces until mmapread maps it, then cut to
 *     2000 bytes by truncate(2) through its path, and read again at an
 *     offset now past the end (SIGBUS inside mmapread, which the program
 *     must never see), then with pread across the new end;
 *   - a small file read whole by its first read;
 *   - a file opened write-only.
 * Each step prints what the kernel's semantics decide (counts, checksums,
 * offsets), identical natively and under the preload; then stdout is
 * flushed and the program ends with _exit(0).
 *
 * usage: fallbacks DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG (1024 * 1024)

static unsigned char buf[BIG];

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

__attribute__((noreturn)) static void fail(const char *what)
{
	printf("%s failed: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(1);
}

static void make_file(const char *path, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) != 0)
		fail(path);
}

/* One byte at a time until end of file or limit bytes. */
static void bytewise(const char *what, int fd, size_t limit)
{
	uint64_t hash = FNV_INIT;
	size_t total = 0;
	unsigned char c;
	ssize_t n;

	while (total < limit && (n = read(fd, &c, 1)) == 1) {
		hash = fnv1a(hash, &c, 1);
		total++;
	}
	printf("%s: %zu bytes one at a time, checksum %016" PRIx64 "\n", what,
	       total, hash);
}

/* A FIFO opened by its path: a pipe() would never reach mmapread's open. */
static void fifo_step(const char *path)
{
	int fd;

	if (mkfifo(path, 0600) != 0)
		fail("mkfifo");
	/* O_RDWR: Linux opens a FIFO that way without waiting for a peer. */
	fd = open(path, O_RDWR);
	if (fd < 0)
		fail("open the FIFO");
	for (size_t i = 0; i < 4096; i++)
		buf[i] = (unsigned char)i;
	if (write(fd, buf, 4096) != 4096)
		fail("write to the FIFO");
	bytewise("FIFO", fd, 200);
	close(fd);
}

static void proc_step(void)
{
	int fd = open("/proc/filesystems", O_RDONLY);

	if (fd < 0)
		fail("open /proc/filesystems");
	bytewise("/proc/filesystems", fd, BIG);
	close(fd);
}

static void truncation_step(const char *path)
{
	uint64_t hash = FNV_INIT;
	ssize_t n;
	int fd;

	make_file(path, BIG);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open the file to truncate");
	for (int i = 0; i < 100; i++) {
		n = read(fd, buf, 64);
		if (n != 64)
			fail("a 64-byte read");
		hash = fnv1a(hash, buf, 64);
	}
	printf("100 reads of 64 bytes: checksum %016" PRIx64 ", offset %lld\n",
	       hash, (long long)lseek(fd, 0, SEEK_CUR));
	if (truncate(path, 2000) != 0)
		fail("truncate");
	n = read(fd, buf, 4096);
	printf("read 4096 at 6400 after truncate to 2000: %zd, offset %lld\n",
	       n, (long long)lseek(fd, 0, SEEK_CUR));
	n = pread(fd, buf, 100, 1950);
	printf("pread 100 at 1950: %zd, checksum %016" PRIx64 "\n", n,
	       n > 0 ? fnv1a(FNV_INIT, buf, (size_t)n) : 0);
	close(fd);
}

static void small_file_step(const char *path)
{
	ssize_t first, second;
	int fd;

	make_file(path, 100);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open the small file");
	first = read(fd, buf, 4096);
	second = read(fd, buf, 4096);
	printf("small file: reads return %zd then %zd\n", first, second);
	close(fd);
}

static void write_only_step(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		fail("open write-only");
	n = read(fd, buf, 1);
	printf("read from a write-only fd: %zd (%s)\n", n,
	       n < 0 ? strerror(errno) : "no error");
	close(fd);
}

int main(int argc, char **argv)
{
	static const char *const made[] = { "fifo", "truncated", "small",
					    "write-only" };
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: fallbacks DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/fifo", argv[1]);
	fifo_step(path);
	proc_step();
	snprintf(path, sizeof(path), "%s/truncated", argv[1]);
	truncation_step(path);
	snprintf(path, sizeof(path), "%s/small", argv[1]);
	small_file_step(path);
	snprintf(path, sizeof(path), "%s/write-only", argv[1]);
	write_only_step(path);
	/* Leave DIR as it was: the native and preloaded runs share it. */
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[1], made[i]);
		unlink(path);
	}
	fflush(stdout);
	_exit(0);
}
