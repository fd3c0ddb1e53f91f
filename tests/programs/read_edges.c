/*
 * read_edges: the kernel's answer at every edge of read, pread and readv.
 *
 * On a mapped file (and, for contrast, on one opened O_RDWR, never mapped):
 * zero counts (with good, NULL and kernel-space buffers), buffers the
 * process cannot write (PROT_NONE, read-only, NULL, kernel addresses,
 * ranges that wrap) which give -1 EFAULT and leave the offset alone, a
 * buffer whose second page is PROT_NONE (a short count), huge counts, pread
 * at negative and enormous offsets, readv with 0, -1, IOV_MAX and IOV_MAX+1
 * vectors and lengths that overflow, preadv/preadv2 with offset -1 and
 * flags, reads of write-only, O_PATH, closed and invalid fds. Every
 * successful call must leave errno as it was (the transcript says so).
 *
 * Last, a read of 0x80000000 bytes from a 3 GiB sparse file into a
 * MAP_NORESERVE buffer must return 0x7ffff000, as the kernel clamps it
 * (skipped, identically in both runs, without enough memory).
 */
#include "common.h"

#include <limits.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define DATA_SIZE (512 * 1024 + 77)
#define PAGE 4096

#define KERNEL_ADDR ((void *)0xffff888000000000ul)
#define NONCANONICAL ((void *)0x0000800000000000ul)
#define USER_TOP ((void *)0x00007ffffffff000ul)

/* Hide a value from the compiler's object-size and nonnull checks. */
static void *launder(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

static size_t lsz(size_t n)
{
	__asm__("" : "+r"(n));
	return n;
}

static int lint(int n)
{
	__asm__("" : "+r"(n));
	return n;
}

static char buf[1 << 20];
static unsigned char *pages; /* [0] RW, [1] PROT_NONE, [2] PROT_READ */

static void map_by_reading(int fd)
{
	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 1000), "map: read(1000)");
}

static void zero_counts(int fd)
{
	struct iovec iov[2] = { { NULL, 0 }, { KERNEL_ADDR, 0 } };

	DO(fd, NULL, read(fd, buf, 0), "read(buf, 0)");
	DO(fd, NULL, read(fd, launder(NULL), 0), "read(NULL, 0)");
	DO(fd, NULL, read(fd, launder(pages + PAGE), 0), "read(PROT_NONE, 0)");
	DO(fd, NULL, read(fd, launder(KERNEL_ADDR), 0), "read(kernel address, 0)");
	DO(fd, NULL, read(fd, launder(NONCANONICAL), 0), "read(non-canonical address, 0)");
	DO(fd, NULL, read(fd, launder(USER_TOP), 0), "read(top of user space, 0)");
	DO(fd, NULL, pread(fd, buf, 0, 0), "pread(buf, 0, 0)");
	DO(fd, NULL, pread(fd, buf, 0, 1 << 30), "pread(buf, 0, 1G)");
	DO(fd, NULL, pread(fd, launder(KERNEL_ADDR), 0, 100), "pread(kernel address, 0, 100)");
	DO(fd, NULL, pread(fd, buf, 0, -1), "pread(buf, 0, -1)");
	DO(fd, NULL, readv(fd, iov, 1), "readv({NULL, 0})");
	DO(fd, NULL, readv(fd, iov, 2), "readv({NULL, 0}, {kernel address, 0})");
	DO(fd, NULL, readv(fd, iov + 1, 1), "readv({kernel address, 0})");
	DO(fd, NULL, preadv(fd, iov, 1, 0), "preadv({NULL, 0}, 0)");
	DO(fd, NULL, preadv2(fd, iov, 1, -1, 0), "preadv2({NULL, 0}, -1, 0)");
}

static void bad_buffers(int fd)
{
	unsigned char *rw_end = pages + PAGE;
	struct iovec iov[3];

	DO(fd, NULL, read(fd, pages + PAGE, 100), "read(PROT_NONE, 100)");
	DO(fd, NULL, read(fd, pages + 2 * PAGE, 100), "read(PROT_READ, 100)");
	DO(fd, NULL, read(fd, launder(NULL), lsz(10)), "read(NULL, 10)");
	DO(fd, NULL, read(fd, launder(KERNEL_ADDR), lsz(10)), "read(kernel address, 10)");
	DO(fd, NULL, read(fd, launder(NONCANONICAL), lsz(10)), "read(non-canonical, 10)");
	DO(fd, NULL, read(fd, launder((void *)-4096l), lsz(8192)), "read(wrapping range, 8192)");
	DO(fd, NULL, read(fd, launder((char *)USER_TOP - 10), lsz(10)),
	   "read(10 bytes below the top of user space, 10)");
	DO(fd, NULL, read(fd, launder((char *)USER_TOP - 10), lsz(20)),
	   "read(across the top of user space, 20)");
	DO(fd, NULL, pread(fd, pages + PAGE, 100, 5000), "pread(PROT_NONE, 100, 5000)");
	DO(fd, NULL, pread(fd, launder(NULL), lsz(100), 5000), "pread(NULL, 100, 5000)");

	/* The second page faults: the kernel copies what fits before it. */
	memset(pages, 0, PAGE);
	DO(fd, rw_end - 100, read(fd, rw_end - 100, 1000),
	   "read(100 writable bytes then PROT_NONE, 1000)");
	DO(fd, rw_end - 1, read(fd, rw_end - 1, 2), "read(1 writable byte then PROT_NONE, 2)");
	DO(fd, rw_end - 100, pread(fd, rw_end - 100, 1000, 7),
	   "pread(100 writable bytes then PROT_NONE, 1000, 7)");

	iov[0] = (struct iovec){ buf, 50 };
	iov[1] = (struct iovec){ pages + PAGE, 50 };
	iov[2] = (struct iovec){ buf + 100, 50 };
	DOV(fd, iov, 3, readv(fd, iov, 3), "readv(good 50, PROT_NONE 50, good 50)");
	DOV(fd, iov, 3, preadv(fd, iov, 3, 10), "preadv(good 50, PROT_NONE 50, good 50, 10)");
	iov[1] = (struct iovec){ rw_end - 30, 60 };
	DOV(fd, iov, 3, readv(fd, iov, 3), "readv(good 50, 30 good then PROT_NONE, good 50)");
	iov[0] = (struct iovec){ pages + PAGE, 50 };
	DOV(fd, iov, 1, readv(fd, iov, 1), "readv(PROT_NONE 50)");
	iov[0] = (struct iovec){ launder(KERNEL_ADDR), 50 };
	DOV(fd, iov, 1, readv(fd, iov, 1), "readv(kernel address 50)");
	DOV(fd, iov, 1, preadv2(fd, iov, 1, -1, 0), "preadv2(kernel address 50, -1, 0)");
}

static void huge_counts(int fd, long long size)
{
	DO(fd, NULL, read(fd, buf, lsz(SIZE_MAX)), "read(buf, SIZE_MAX)");
	DO(fd, NULL, read(fd, buf, lsz((size_t)SSIZE_MAX + 1)), "read(buf, SSIZE_MAX + 1)");
	DO(fd, NULL, read(fd, buf, lsz(SSIZE_MAX)), "read(buf, SSIZE_MAX)");
	DO(fd, NULL, read(fd, buf, lsz(1ul << 47)), "read(buf, 1 << 47)");
	DO(fd, NULL, pread(fd, buf, lsz(SIZE_MAX), 0), "pread(buf, SIZE_MAX, 0)");
	DO(fd, NULL, lseek(fd, size - 100, SEEK_SET), "lseek(size - 100, SEEK_SET)");
	/* 1 MiB is above mmapread's small-request size, still served. */
	DO(fd, buf, read(fd, buf, sizeof(buf)), "read(buf, 1 MiB) 100 bytes before EOF");
	DO(fd, NULL, lseek(fd, 4096, SEEK_SET), "lseek(4096, SEEK_SET)");
	DO(fd, buf, read(fd, buf, sizeof(buf)), "read(buf, 1 MiB)");
	DO(fd, buf, read(fd, buf, sizeof(buf)), "read(buf, 1 MiB)");
	DO(fd, buf, pread(fd, buf, sizeof(buf), 3), "pread(buf, 1 MiB, 3)");
}

static void positions(int fd)
{
	struct iovec iov[2] = { { buf, 100 }, { buf + 100, 100 } };

	DO(fd, NULL, lseek(fd, 3000, SEEK_SET), "lseek(3000, SEEK_SET)");
	DO(fd, buf, pread(fd, buf, 100, -1), "pread(100, -1)");
	DO(fd, buf, pread(fd, buf, 100, INT64_MIN), "pread(100, INT64_MIN)");
	DO(fd, buf, pread(fd, buf, 100, INT64_MAX), "pread(100, INT64_MAX)");
	DO(fd, buf, pread(fd, buf, 100, INT64_MAX - 10), "pread(100, INT64_MAX - 10)");
	DO(fd, buf, pread(fd, buf, 100, INT64_MAX - 100), "pread(100, INT64_MAX - 100)");
	DO(fd, buf, pread(fd, buf, 100, 1ll << 62), "pread(100, 1 << 62)");
	DO(fd, buf, pread(fd, buf, 100, 1ll << 40), "pread(100, 1 << 40)");
	DOV(fd, iov, 2, preadv(fd, iov, 2, -1), "preadv(100+100, -1)");
	DOV(fd, iov, 2, preadv(fd, iov, 2, -2), "preadv(100+100, -2)");
	DOV(fd, iov, 2, preadv(fd, iov, 2, INT64_MAX - 150), "preadv(100+100, INT64_MAX - 150)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -1, 0), "preadv2(100+100, -1, 0)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -2, 0), "preadv2(100+100, -2, 0)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -1, RWF_NOWAIT), "preadv2(100+100, -1, RWF_NOWAIT)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -1, RWF_HIPRI), "preadv2(100+100, -1, RWF_HIPRI)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -1, RWF_DSYNC), "preadv2(100+100, -1, RWF_DSYNC)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -1, RWF_APPEND), "preadv2(100+100, -1, RWF_APPEND)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -1, 0x40000000), "preadv2(100+100, -1, unknown flag)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, 5000, RWF_NOWAIT), "preadv2(100+100, 5000, RWF_NOWAIT)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, 5000, RWF_HIPRI), "preadv2(100+100, 5000, RWF_HIPRI)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, 5000, 0x40000000), "preadv2(100+100, 5000, unknown flag)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, -2, RWF_NOWAIT), "preadv2(100+100, -2, RWF_NOWAIT)");
	DOV(fd, iov, 2, preadv2(fd, iov, 2, 6000, 0), "preadv2(100+100, 6000, 0)");
	DOV(fd, iov, 2, preadv(fd, iov, 2, 6000), "preadv(100+100, 6000)");
}

static void vector_counts(int fd, long long size)
{
	static struct iovec many[IOV_MAX + 1];
	static char bytes[IOV_MAX + 1];
	struct iovec two[2];

	for (int i = 0; i <= IOV_MAX; i++)
		many[i] = (struct iovec){ bytes + i, 1 };
	DO(fd, NULL, lseek(fd, 5000, SEEK_SET), "lseek(5000, SEEK_SET)");
	DOV(fd, many, 0, readv(fd, many, 0), "readv(iovcnt 0)");
	DOV(fd, many, 0, readv(fd, many, lint(-1)), "readv(iovcnt -1)");
	DOV(fd, many, IOV_MAX, readv(fd, many, IOV_MAX), "readv(IOV_MAX vectors of 1)");
	DOV(fd, many, IOV_MAX, readv(fd, many, IOV_MAX + 1), "readv(IOV_MAX + 1 vectors)");
	DOV(fd, many, IOV_MAX, preadv(fd, many, IOV_MAX, 100), "preadv(IOV_MAX vectors of 1, 100)");
	DOV(fd, many, IOV_MAX, preadv(fd, many, IOV_MAX + 1, 100), "preadv(IOV_MAX + 1 vectors, 100)");
	DOV(fd, many, 0, preadv2(fd, many, 0, -1, 0), "preadv2(iovcnt 0, -1, 0)");
	DOV(fd, many, 0, preadv(fd, many, 0, 0), "preadv(iovcnt 0, 0)");

	DO(fd, NULL, lseek(fd, size - 100, SEEK_SET), "lseek(size - 100, SEEK_SET)");
	two[0] = (struct iovec){ buf, SSIZE_MAX };
	two[1] = (struct iovec){ buf, SSIZE_MAX };
	DOV(fd, two, 2, readv(fd, two, 2), "readv(SSIZE_MAX + SSIZE_MAX)");
	two[0] = (struct iovec){ buf, 100 };
	two[1] = (struct iovec){ buf + 100, SIZE_MAX };
	DOV(fd, two, 2, readv(fd, two, 2), "readv(100 + SIZE_MAX)");
	two[1] = (struct iovec){ buf + 100, (size_t)SSIZE_MAX + 1 };
	DOV(fd, two, 2, readv(fd, two, 2), "readv(100 + SSIZE_MAX+1)");
	two[1] = (struct iovec){ buf + 100, SSIZE_MAX - 50 };
	DOV(fd, two, 2, readv(fd, two, 2), "readv(100 + SSIZE_MAX-50)");
	DOV(fd, two, 2, preadv(fd, two, 2, 0), "preadv(100 + SSIZE_MAX-50, 0)");
	two[1] = (struct iovec){ buf + 100, 1000 };
	DOV(fd, two, 2, readv(fd, two, 2), "readv(100 + 1000) 100 bytes before EOF");
	DOV(fd, two, 2, readv(fd, two, 2), "readv(100 + 1000) at EOF");
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(0, SEEK_SET)");
}

static void bad_fds(void)
{
	int wr = open(dpath("data"), O_WRONLY), path = open(dpath("data"), O_PATH);
	int closed = open(dpath("data"), O_RDONLY);
	struct iovec iov = { buf, 10 };

	if (wr < 0 || path < 0 || closed < 0)
		die("open data in other modes");
	close(closed);
	DO(-1, buf, read(wr, buf, 10), "read(O_WRONLY, 10)");
	DO(-1, buf, read(wr, buf, 0), "read(O_WRONLY, 0)");
	DO(-1, buf, pread(wr, buf, 10, 0), "pread(O_WRONLY, 10, 0)");
	DOV(-1, &iov, 1, readv(wr, &iov, 1), "readv(O_WRONLY, 10)");
	DO(-1, buf, read(path, buf, 10), "read(O_PATH, 10)");
	DO(-1, buf, read(closed, buf, 10), "read(closed, 10)");
	DO(-1, buf, read(closed, buf, 0), "read(closed, 0)");
	DO(-1, buf, pread(closed, buf, 10, -1), "pread(closed, 10, -1)");
	DO(-1, buf, read(-1, buf, 10), "read(-1, 10)");
	DO(-1, buf, read(INT_MAX, buf, 10), "read(INT_MAX, 10)");
	DO(-1, buf, read(1 << 20, buf, 10), "read(1 << 20, 10)");
	DOV(-1, &iov, 1, preadv2(-1, &iov, 1, -1, 0), "preadv2(-1, 10, -1, 0)");
	DO(-1, NULL, lseek(closed, 0, SEEK_CUR), "lseek(closed, 0, SEEK_CUR)");
	close(wr);
	close(path);
}

static void suite(int fd, long long size)
{
	section("zero counts");
	zero_counts(fd);
	section("buffers the process cannot write");
	bad_buffers(fd);
	section("huge counts");
	huge_counts(fd, size);
	section("positions and flags");
	positions(fd);
	section("vector counts and lengths");
	vector_counts(fd, size);
}

/* O_DIRECT turned on through F_SETFL: the kernel's alignment rules hold. */
static void o_direct(int fd)
{
	unsigned char *aligned = pages; /* page-aligned, first page writable */

	section("O_DIRECT through fcntl(F_SETFL) on the mapped file");
	DO(fd, NULL, lseek(fd, 3000, SEEK_SET), "lseek(3000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 100), "read(100)");
	DO(fd, NULL, fcntl(fd, F_SETFL, O_DIRECT), "fcntl(F_SETFL, O_DIRECT)");
	DO(fd, NULL, fcntl(fd, F_GETFL) & O_DIRECT ? 1 : 0, "O_DIRECT set");
	DO(fd, buf, read(fd, buf + 1, 100), "read(unaligned, 100) at 3100");
	DO(fd, NULL, lseek(fd, 8192, SEEK_SET), "lseek(8192, SEEK_SET)");
	DO(fd, aligned, read(fd, aligned, PAGE), "read(aligned, 4096)");
	DO(fd, aligned, pread(fd, aligned, PAGE, 3 * PAGE), "pread(aligned, 4096, 12288)");
	DO(fd, NULL, fcntl(fd, F_SETFL, 0), "fcntl(F_SETFL, 0)");
	DO(fd, buf, read(fd, buf + 1, 100), "read(unaligned, 100)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
}

static long long mem_available_kib(void)
{
	char text[8192];
	long long kib = 0;
	ssize_t n;
	char *p;
	int fd = open("/proc/meminfo", O_RDONLY);

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	p = strstr(text, "MemAvailable:");
	if (p)
		kib = strtoll(p + 13, NULL, 10);
	return kib;
}

#define BIG_SIZE (3ll << 30)
#define CLAMP 0x7ffff000ll

static void big_read(void)
{
	static const char beyond[] = "BEYOND-THE-CLAMP";
	struct mmapread_stats before, after;
	unsigned char *big;
	int fd;

	section("read(0x80000000) from a 3 GiB sparse file");
	if (mem_available_kib() < 8ll * 1024 * 1024) {
		printf("skipped: less than 8 GiB of memory available\n");
		return;
	}
	fd = open(dpath("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, BIG_SIZE) != 0)
		die("create big");
	append_pattern(fd, 0, 64 * 1024, 12);
	if (lseek(fd, CLAMP - 8192, SEEK_SET) < 0)
		die("seek big");
	append_pattern(fd, CLAMP - 8192, 8192, 12);
	write_all(fd, beyond, sizeof(beyond) - 1);
	close(fd);

	fd = open_ro("big");
	map_by_reading(fd);
	big = mmap(NULL, (size_t)CLAMP + 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		die("mmap 2 GiB");
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(0, SEEK_SET)");
	get_stats(&before);
	DO(fd, NULL, read(fd, big, lsz(0x80000000ul)), "read(0x80000000)");
	get_stats(&after);
	preload_check("read_edges: the 2 GiB read was served, clamped",
		      after.bytes_served - before.bytes_served == (uint64_t)CLAMP);
	printf("first 64 KiB sum=%016" PRIx64 "\n", sum_bytes(big, 65536));
	printf("last 8 KiB sum=%016" PRIx64 "\n",
	       sum_bytes(big + CLAMP - 8192, 8192));
	printf("bytes after the clamp untouched: %s\n",
	       big[CLAMP] == 0 && big[CLAMP + 1] == 0 ? "yes" : "no");
	printf("a hole in the middle reads as zeros: %s\n",
	       big[1 << 30] == 0 && big[(1 << 30) + 4095] == 0 ? "yes" : "no");
	munmap(big, (size_t)CLAMP + 2 * PAGE);
	DO(fd, buf, read(fd, buf, 16), "read(16)");
	printf("   got \"%.16s\"\n", buf);
	DO(fd, NULL, lseek(fd, BIG_SIZE - 10, SEEK_SET), "lseek(size - 10, SEEK_SET)");
	DO(fd, buf, read(fd, buf, lsz(0x80000000ul)), "read(0x80000000) 10 bytes before EOF");
	close(fd);
	unlink(dpath("big"));
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	int fd;

	setup(argc, argv);
	make_file("data", DATA_SIZE, 13);
	pages = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || mprotect(pages + PAGE, PAGE, PROT_NONE) != 0 ||
	    mprotect(pages + 2 * PAGE, PAGE, PROT_READ) != 0)
		die("mmap pages");

	printf("\n#### a file opened O_RDWR, which mmapread never maps\n");
	fd = open(dpath("data"), O_RDWR);
	if (fd < 0)
		die("open data O_RDWR");
	suite(fd, DATA_SIZE);
	close(fd);

	printf("\n#### a mapped file\n");
	fd = open_ro("data");
	map_by_reading(fd);
	get_stats(&before);
	suite(fd, DATA_SIZE);
	get_stats(&after);
	preload_check("read_edges: the mapped file was served",
		      served_total(&after) > served_total(&before));
	o_direct(fd);
	close(fd);

	section("write-only, O_PATH, closed and invalid fds");
	bad_fds();

	big_read();
	return 0;
}
