/*
 * writes: an O_RDWR file that is read in small chunks (so mmapread maps
 * it), then written, re-read and truncated.
 *
 * While a mapped description's offset lives in user space, every call the
 * kernel serves at the file offset would act at a stale one: write,
 * writev, pwritev2 with offset -1, dprintf and vdprintf (glibc writes
 * through an internal write), ioctl(FIONREAD) (size minus the offset),
 * sendfile, splice and copy_file_range into the file. Writes through an
 * O_APPEND description (or one turned O_APPEND by F_SETFL mid-file) move
 * the offset to the end, which only the kernel knows; pwrite on an
 * O_APPEND description appends too but moves nothing. ftruncate,
 * fallocate (COLLAPSE_RANGE, INSERT_RANGE, ZERO_RANGE, PUNCH_HOLE) and
 * posix_fallocate change the file under the mapping.
 *
 * First each call once, on a description just mapped whose offset only
 * mmapread knows (that is when a stale kernel offset shows); then
 * sequences of them through one fd, through dup'ed fds and through two
 * independent opens. After every step the offset, FIONREAD and the
 * checksum of the next small read are printed, and at the end the whole
 * file's checksum: as the kernel has it (raw pread system calls, which no
 * preload sees) and as the program reads it through the fd.
 *
 * Whatever a filesystem refuses (O_DIRECT, some fallocate modes) prints
 * its errno: the native run is the reference. A mapped O_RDONLY fd is
 * checked too: FIONREAD, and writes refused without moving its offset.
 */
#include "common.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>

#define DATA_SIZE (256 * 1024 + 123)

static char buf[65536];

/* A pointer the compiler cannot see through (a NULL buffer on purpose). */
static void *launder(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

/* len bytes of a pattern no other write uses, so each write shows. */
static const char *wdata(size_t len, unsigned int seed)
{
	static unsigned char bufs[2][65536];
	static int next;
	unsigned char *b = bufs[next++ % 2];

	fill_pattern(b, 0, len, 1000 + seed);
	return (const char *)b;
}

/* After each step: what FIONREAD, the offset and the next read say. */
static void probe(int fd, const char *name)
{
	int avail = -12345;

	DO(fd, NULL, ioctl(fd, FIONREAD, &avail), "   ioctl(%s, FIONREAD)",
	   name);
	printf("      FIONREAD: %d\n", avail);
	DO(fd, buf, read(fd, buf, 100), "   read(%s, 100)", name);
}

/* Map name (fresh, DATA_SIZE bytes) opened with flags: 4 small reads. */
static int map_rw(const char *name, int flags, unsigned int seed)
{
	struct mmapread_stats before, after;
	char what[128];
	int fd;

	make_file(name, DATA_SIZE, seed);
	get_stats(&before);
	fd = open(dpath(name), flags | O_CLOEXEC);
	if (fd < 0)
		die("open %s", name);
	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(%s, 1000)", name);
	get_stats(&after);
	snprintf(what, sizeof(what), "writes: %s is mapped before the writes",
		 name);
	preload_check(what, after.files_mapped > before.files_mapped);
	return fd;
}

/* The file as the kernel has it, and as the program reads it through fd. */
static void whole(int fd, const char *name)
{
	uint64_t hash = FNV_INIT;
	long long total = 0;
	struct stat st;
	long n;

	if (fstat(fd, &st) != 0)
		die("fstat %s", name);
	for (;;) {
		n = syscall(SYS_pread64, fd, buf, sizeof(buf), (off_t)total);
		if (n <= 0)
			break;
		hash = fnv1a(hash, buf, (size_t)n);
		total += n;
	}
	printf("%s: size %lld, the kernel has %lld bytes sum=%016" PRIx64
	       "\n", name, (long long)st.st_size, total, hash);
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(%s, 0, SEEK_SET)", name);
	hash = FNV_INIT;
	total = 0;
	while ((n = read(fd, buf, 1000)) > 0) {
		hash = fnv1a(hash, buf, (size_t)n);
		total += n;
	}
	printf("%s: read back through the fd: %lld bytes sum=%016" PRIx64
	       " last=%ld %s\n", name, total, hash, n,
	       n < 0 ? errname(errno) : "");
	probe(fd, name);
}

/*
 * Built with _FORTIFY_SOURCE, so that dprintf() and vdprintf() calls reach
 * libc as __dprintf_chk and __vdprintf_chk; the plain names are called
 * through these pointers.
 */
static int (*plain_dprintf)(int, const char *, ...) = dprintf;
static int (*plain_vdprintf)(int, const char *, va_list) = vdprintf;

static int call_vdprintf(bool plain, int fd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int call_vdprintf(bool plain, int fd, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = plain ? plain_vdprintf(fd, fmt, ap) : vdprintf(fd, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * One call each, on a description that was just mapped and whose offset
 * only mmapread knows (lseek and reads served in user space): every call
 * that uses the offset, changes the file or asks about both.
 */
enum single {
	S_NOTHING, S_WRITE, S_WRITEV, S_PWRITEV2_CUR, S_PWRITEV2_CUR_APPEND,
	S_PWRITEV2_CUR_DSYNC, S_PWRITEV2_CUR_BADFLAG, S_DPRINTF,
	S_DPRINTF_PLAIN, S_VDPRINTF, S_VDPRINTF_PLAIN, S_DPRINTF_BIG,
	S_WRITE_NULL, S_WRITE_ZERO, S_WRITE_SHORT, S_SENDFILE_OUT,
	S_COPY_RANGE_OUT, S_SPLICE_OUT, S_PWRITE_INSIDE, S_PWRITE_ACROSS_END,
	S_PWRITEV, S_PWRITEV2_AT, S_PWRITEV2_AT_APPEND, S_FTRUNCATE_GROW,
	S_FTRUNCATE_ABOVE, S_FTRUNCATE_BELOW, S_FTRUNCATE_ZERO,
	S_FALLOCATE_GROW, S_FALLOCATE_KEEP, S_PUNCH_HOLE, S_ZERO_RANGE,
	S_ZERO_RANGE_GROW, S_COLLAPSE_BEFORE, S_COLLAPSE_BELOW, S_INSERT,
	S_POSIX_FALLOCATE, S_SETFL_APPEND, S_SETFL_DIRECT,
	/* on an O_RDWR|O_APPEND description */
	S_A_WRITE, S_A_PWRITE, S_A_WRITEV, S_A_DPRINTF, S_A_PWRITEV2_CUR,
	S_A_SETFL_OFF, S_COUNT
};

#define AT 12345

static void single_call(int fd, enum single what, long long size)
{
	static void *aligned;
	struct iovec iov[3];
	loff_t in_off = 100;
	char *two;
	int src, p[2];

	iov[0] = (struct iovec){ (void *)wdata(100, what), 100 };
	iov[1] = (struct iovec){ buf, 0 };
	iov[2] = (struct iovec){ (void *)wdata(250, what + 100), 250 };
	switch (what) {
	case S_NOTHING:
		printf("(nothing: what FIONREAD says of the mapped offset)\n");
		break;
	case S_WRITE:
	case S_A_WRITE:
		DO(fd, NULL, write(fd, wdata(300, what), 300), "write(300)");
		break;
	case S_WRITEV:
	case S_A_WRITEV:
		DO(fd, NULL, writev(fd, iov, 3), "writev(100+0+250)");
		break;
	case S_PWRITEV2_CUR:
	case S_A_PWRITEV2_CUR:
		DO(fd, NULL, pwritev2(fd, iov, 3, -1, 0),
		   "pwritev2(100+0+250, -1, 0)");
		break;
	case S_PWRITEV2_CUR_APPEND:
		DO(fd, NULL, pwritev2(fd, iov, 3, -1, RWF_APPEND),
		   "pwritev2(100+0+250, -1, RWF_APPEND)");
		break;
	case S_PWRITEV2_CUR_DSYNC:
		DO(fd, NULL, pwritev2(fd, iov, 3, -1, RWF_DSYNC),
		   "pwritev2(100+0+250, -1, RWF_DSYNC)");
		break;
	case S_PWRITEV2_CUR_BADFLAG:
		DO(fd, NULL, pwritev2(fd, iov, 3, -1, 0x10000000),
		   "pwritev2(100+0+250, -1, unknown flag)");
		break;
	case S_DPRINTF:
	case S_A_DPRINTF:
		DO(fd, NULL, dprintf(fd, "line %d: %s\n", 1, "dprintf"),
		   "dprintf (__dprintf_chk)");
		break;
	case S_DPRINTF_PLAIN:
		DO(fd, NULL, plain_dprintf(fd, "line %d: %s\n", 2, "dprintf"),
		   "dprintf");
		break;
	case S_VDPRINTF:
		DO(fd, NULL, call_vdprintf(false, fd, "line %d\n", 3),
		   "vdprintf (__vdprintf_chk)");
		break;
	case S_VDPRINTF_PLAIN:
		DO(fd, NULL, call_vdprintf(true, fd, "line %d\n", 4),
		   "vdprintf");
		break;
	case S_DPRINTF_BIG:
		/* More than stdio's buffer: several internal writes. */
		DO(fd, NULL, dprintf(fd, "%20000d|", 42),
		   "dprintf(20001 bytes)");
		break;
	case S_WRITE_NULL:
		DO(fd, NULL, write(fd, launder(NULL), 10), "write(NULL, 10)");
		break;
	case S_WRITE_ZERO:
		DO(fd, NULL, write(fd, buf, 0), "write(0)");
		break;
	case S_WRITE_SHORT:
		/* The kernel writes what it can copy: a short count. */
		two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (two == MAP_FAILED)
			die("mmap");
		memset(two, 'Q', 4096);
		munmap(two + 4096, 4096);
		DO(fd, NULL, write(fd, two + 4096 - 100, 300),
		   "write(300, only 100 readable)");
		munmap(two, 4096);
		break;
	case S_SENDFILE_OUT:
		make_file("source", 4096, 70);
		src = open_ro("source");
		DO(fd, NULL, sendfile(fd, src, (off_t *)&in_off, 500),
		   "sendfile(fd, source, &100, 500)");
		close(src);
		break;
	case S_COPY_RANGE_OUT:
		make_file("source", 4096, 71);
		src = open_ro("source");
		DO(fd, NULL, copy_file_range(src, &in_off, fd, NULL, 700, 0),
		   "copy_file_range(source, &100, fd, NULL, 700, 0)");
		close(src);
		break;
	case S_SPLICE_OUT:
		if (pipe2(p, O_CLOEXEC) != 0)
			die("pipe2");
		write_all(p[1], wdata(300, what), 300);
		DO(fd, NULL, splice(p[0], NULL, fd, NULL, 300, 0),
		   "splice(pipe, NULL, fd, NULL, 300, 0)");
		close(p[0]);
		close(p[1]);
		break;
	case S_PWRITE_INSIDE:
		DO(fd, NULL, pwrite(fd, wdata(500, what), 500, AT - 200),
		   "pwrite(500, AT - 200)");
		break;
	case S_PWRITE_ACROSS_END:
	case S_A_PWRITE:
		DO(fd, NULL, pwrite(fd, wdata(500, what), 500, size - 100),
		   "pwrite(500, size - 100)");
		break;
	case S_PWRITEV:
		DO(fd, NULL, pwritev(fd, iov, 3, AT + 500),
		   "pwritev(100+0+250, AT + 500)");
		break;
	case S_PWRITEV2_AT:
		DO(fd, NULL, pwritev2(fd, iov, 3, AT + 500, 0),
		   "pwritev2(100+0+250, AT + 500, 0)");
		break;
	case S_PWRITEV2_AT_APPEND:
		DO(fd, NULL, pwritev2(fd, iov, 3, AT + 500, RWF_APPEND),
		   "pwritev2(100+0+250, AT + 500, RWF_APPEND)");
		break;
	case S_FTRUNCATE_GROW:
		DO(fd, NULL, ftruncate(fd, size + 10000),
		   "ftruncate(size + 10000)");
		break;
	case S_FTRUNCATE_ABOVE:
		DO(fd, NULL, ftruncate(fd, size - 10000),
		   "ftruncate(size - 10000)");
		break;
	case S_FTRUNCATE_BELOW:
		DO(fd, NULL, ftruncate(fd, 10000), "ftruncate(10000)");
		break;
	case S_FTRUNCATE_ZERO:
		DO(fd, NULL, ftruncate(fd, 0), "ftruncate(0)");
		break;
	case S_FALLOCATE_GROW:
		DO(fd, NULL, fallocate(fd, 0, size - 1000, 20000),
		   "fallocate(0, size - 1000, 20000)");
		break;
	case S_FALLOCATE_KEEP:
		DO(fd, NULL,
		   fallocate(fd, FALLOC_FL_KEEP_SIZE, size - 1000, 20000),
		   "fallocate(KEEP_SIZE, size - 1000, 20000)");
		break;
	case S_PUNCH_HOLE:
		DO(fd, NULL,
		   fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     AT - 1000, 10000),
		   "fallocate(PUNCH_HOLE|KEEP_SIZE, AT - 1000, 10000)");
		break;
	case S_ZERO_RANGE:
		DO(fd, NULL,
		   fallocate(fd, FALLOC_FL_ZERO_RANGE, AT - 1000, 10000),
		   "fallocate(ZERO_RANGE, AT - 1000, 10000)");
		break;
	case S_ZERO_RANGE_GROW:
		DO(fd, NULL,
		   fallocate(fd, FALLOC_FL_ZERO_RANGE, size - 1000, 20000),
		   "fallocate(ZERO_RANGE, size - 1000, 20000)");
		break;
	case S_COLLAPSE_BEFORE:
		DO(fd, NULL,
		   fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 4096, 8192),
		   "fallocate(COLLAPSE_RANGE, 4096, 8192)");
		break;
	case S_COLLAPSE_BELOW:
		/* The end of file moves from past the offset to before it. */
		DO(fd, NULL,
		   fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 4096, 62 * 4096),
		   "fallocate(COLLAPSE_RANGE, 4096, 62 * 4096)");
		break;
	case S_INSERT:
		DO(fd, NULL, fallocate(fd, FALLOC_FL_INSERT_RANGE, 4096, 8192),
		   "fallocate(INSERT_RANGE, 4096, 8192)");
		break;
	case S_POSIX_FALLOCATE:
		DO(fd, NULL, posix_fallocate(fd, size - 1000, 20000),
		   "posix_fallocate(size - 1000, 20000)");
		break;
	case S_SETFL_APPEND:
		DO(fd, NULL, fcntl(fd, F_SETFL, O_APPEND),
		   "fcntl(F_SETFL, O_APPEND)");
		DO(fd, NULL, write(fd, wdata(100, what), 100), "write(100)");
		break;
	case S_SETFL_DIRECT:
		DO(fd, NULL, fcntl(fd, F_SETFL, O_DIRECT),
		   "fcntl(F_SETFL, O_DIRECT)");
		printf("   O_DIRECT now: %s\n",
		       fcntl(fd, F_GETFL) & O_DIRECT ? "on" : "off");
		if (!aligned && posix_memalign(&aligned, 4096, 8192) != 0)
			die("posix_memalign");
		DO(fd, buf, read(fd, buf, 100), "read(100)");
		DO(fd, NULL, lseek(fd, 8192, SEEK_SET),
		   "lseek(8192, SEEK_SET)");
		DO(fd, aligned, read(fd, aligned, 4096), "read(4096) aligned");
		memcpy(aligned, wdata(4096, what), 4096);
		DO(fd, NULL, write(fd, aligned, 4096), "write(4096) aligned");
		DO(fd, NULL, pwrite(fd, aligned, 4096, 4096),
		   "pwrite(4096, 4096) aligned");
		DO(fd, aligned, read(fd, aligned, 8192), "read(8192) aligned");
		DO(fd, NULL, fcntl(fd, F_SETFL, 0), "fcntl(F_SETFL, 0)");
		break;
	case S_A_SETFL_OFF:
		DO(fd, NULL, fcntl(fd, F_SETFL, 0), "fcntl(F_SETFL, 0)");
		DO(fd, NULL, write(fd, wdata(100, what), 100), "write(100)");
		break;
	default:
		break;
	}
}

static void singles(void)
{
	char name[32];
	int fd;

	for (int i = 0; i < S_COUNT; i++) {
		bool append = i >= S_A_WRITE;

		snprintf(name, sizeof(name), "single-%02d", i);
		printf("\n== %s: one call on a freshly mapped %s fd\n", name,
		       append ? "O_RDWR|O_APPEND" : "O_RDWR");
		fd = map_rw(name, append ? O_RDWR | O_APPEND : O_RDWR,
			    20 + (unsigned int)i);
		DO(fd, NULL, lseek(fd, AT, SEEK_SET), "lseek(AT, SEEK_SET)");
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
		single_call(fd, (enum single)i, DATA_SIZE);
		probe(fd, name);
		DO(fd, NULL, lseek(fd, AT, SEEK_SET), "lseek(AT, SEEK_SET)");
		DO(fd, buf, read(fd, buf, 2000),
		   "read(2000): what was written");
		whole(fd, name);
		close(fd);
	}
}

static void grow_shrink(void)
{
	int fd;

	section("write past the end, ftruncate below the offset, grow again");
	fd = map_rw("size", O_RDWR, 2);
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	DO(fd, NULL, write(fd, wdata(5000, 10), 5000), "write(5000)");
	probe(fd, "size");
	DO(fd, NULL, lseek(fd, -7000, SEEK_END), "lseek(-7000, SEEK_END)");
	DO(fd, buf, read(fd, buf, 4096), "read(4096) across the old end");
	DO(fd, buf, read(fd, buf, 4096), "read(4096)");
	probe(fd, "size");
	DO(fd, NULL, lseek(fd, 20000, SEEK_END), "lseek(20000, SEEK_END)");
	DO(fd, NULL, write(fd, wdata(100, 11), 100), "write(100) after a hole");
	probe(fd, "size");
	DO(fd, NULL, lseek(fd, -20300, SEEK_CUR), "lseek(-20300, SEEK_CUR)");
	DO(fd, buf, read(fd, buf, 4096), "read(4096) into the hole");

	DO(fd, NULL, lseek(fd, 100000, SEEK_SET), "lseek(100000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, ftruncate(fd, 50000),
	   "ftruncate(50000): below the offset");
	probe(fd, "size");
	DO(fd, NULL, lseek(fd, 40000, SEEK_SET), "lseek(40000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 4096), "read(4096)");
	DO(fd, buf, read(fd, buf, 8192), "read(8192): short");
	probe(fd, "size");
	DO(fd, NULL, ftruncate(fd, 300000), "ftruncate(300000): grow");
	probe(fd, "size");
	DO(fd, NULL, lseek(fd, 49000, SEEK_SET), "lseek(49000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 4096), "read(4096) across the zeros");
	DO(fd, NULL, write(fd, wdata(3000, 12), 3000), "write(3000)");
	probe(fd, "size");
	DO(fd, NULL, ftruncate(fd, 0), "ftruncate(0)");
	probe(fd, "size");
	DO(fd, NULL, write(fd, wdata(1000, 13), 1000),
	   "write(1000) far past the end");
	probe(fd, "size");
	DO(fd, NULL, ftruncate(fd, -1), "ftruncate(-1)");
	probe(fd, "size");
	whole(fd, "size");
	close(fd);
}

static void fallocate_cases(void)
{
	int fd;

	section("fallocate and posix_fallocate under the offset");
	fd = map_rw("falloc", O_RDWR, 3);
	DO(fd, NULL, lseek(fd, 20000, SEEK_SET), "lseek(20000, SEEK_SET)");
	DO(fd, NULL, fallocate(fd, 0, DATA_SIZE, 8192),
	   "fallocate(0, size, 8192)");
	probe(fd, "falloc");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_KEEP_SIZE, DATA_SIZE + 8192, 8192),
	   "fallocate(KEEP_SIZE, size + 8192, 8192)");
	probe(fd, "falloc");
	DO(fd, NULL,
	   fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 20000,
		     10000),
	   "fallocate(PUNCH_HOLE|KEEP_SIZE, 20000, 10000): under the offset");
	probe(fd, "falloc");
	DO(fd, buf, pread(fd, buf, 4096, 18000), "pread(4096, 18000)");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096),
	   "fallocate(PUNCH_HOLE, 0, 4096) without KEEP_SIZE");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 8192, 8192),
	   "fallocate(COLLAPSE_RANGE, 8192, 8192): before the offset");
	probe(fd, "falloc");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 100, 4096),
	   "fallocate(COLLAPSE_RANGE, 100, 4096): unaligned");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_INSERT_RANGE, 4096, 4096),
	   "fallocate(INSERT_RANGE, 4096, 4096)");
	probe(fd, "falloc");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_ZERO_RANGE, 19000, 5000),
	   "fallocate(ZERO_RANGE, 19000, 5000): around the offset");
	probe(fd, "falloc");
	DO(fd, NULL,
	   fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		     DATA_SIZE + 50000, 4096),
	   "fallocate(ZERO_RANGE|KEEP_SIZE) past the end");
	probe(fd, "falloc");
	DO(fd, NULL, lseek(fd, -5000, SEEK_END), "lseek(-5000, SEEK_END)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 65536, 65536),
	   "fallocate(COLLAPSE_RANGE, 65536, 65536): "
	   "the end moves below the offset");
	probe(fd, "falloc");
	DO(fd, NULL, lseek(fd, -3000, SEEK_END), "lseek(-3000, SEEK_END)");
	DO(fd, NULL, posix_fallocate(fd, 100000, 200000),
	   "posix_fallocate(100000, 200000): grows");
	probe(fd, "falloc");
	DO(fd, NULL, posix_fallocate(fd, 0, 100), "posix_fallocate(0, 100)");
	DO(fd, NULL, posix_fallocate(fd, -1, 100), "posix_fallocate(-1, 100)");
	probe(fd, "falloc");
	whole(fd, "falloc");
	close(fd);
}

static void dprintf_cases(void)
{
	int fd;

	section("dprintf and vdprintf write at the file offset");
	fd = map_rw("print", O_RDWR, 4);
	DO(fd, NULL, dprintf(fd, "line %d: %s\n", 1, "dprintf"), "dprintf");
	probe(fd, "print");
	DO(fd, NULL, lseek(fd, -117, SEEK_CUR), "lseek(-117, SEEK_CUR)");
	DO(fd, buf, read(fd, buf, 17), "read(17): what dprintf wrote");
	DO(fd, NULL, call_vdprintf(false, fd, "line %d: %s\n", 2, "vdprintf"),
	   "vdprintf");
	probe(fd, "print");
	/* More than stdio's buffer: several internal writes. */
	DO(fd, NULL, dprintf(fd, "%20000d|", 42), "dprintf(20001 bytes)");
	probe(fd, "print");
	DO(fd, NULL, dprintf(fd, "%s", ""), "dprintf(\"\")");
	probe(fd, "print");
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	DO(fd, NULL, dprintf(fd, "at the end\n"), "dprintf at the end");
	probe(fd, "print");
	whole(fd, "print");
	close(fd);
}

static void append_cases(void)
{
	struct iovec iov[2];
	int fd;

	section("O_RDWR|O_APPEND: every write goes to the end, the offset too");
	fd = map_rw("append", O_RDWR | O_APPEND, 5);
	DO(fd, NULL, write(fd, wdata(200, 20), 200), "write(200)");
	probe(fd, "append");
	DO(fd, NULL, lseek(fd, 5000, SEEK_SET), "lseek(5000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, pwrite(fd, wdata(100, 21), 100, 0),
	   "pwrite(100, 0): appends, moves nothing");
	probe(fd, "append");
	DO(fd, buf, pread(fd, buf, 100, 0), "pread(100, 0)");
	iov[0] = (struct iovec){ (void *)wdata(30, 22), 30 };
	iov[1] = (struct iovec){ (void *)wdata(40, 23), 40 };
	DO(fd, NULL, lseek(fd, 7000, SEEK_SET), "lseek(7000, SEEK_SET)");
	DO(fd, NULL, writev(fd, iov, 2), "writev(30+40)");
	probe(fd, "append");
	DO(fd, NULL, lseek(fd, 8000, SEEK_SET), "lseek(8000, SEEK_SET)");
	DO(fd, NULL, dprintf(fd, "appended by dprintf\n"), "dprintf");
	probe(fd, "append");
	DO(fd, NULL, lseek(fd, 9000, SEEK_SET), "lseek(9000, SEEK_SET)");
	DO(fd, NULL, pwritev2(fd, iov, 2, -1, 0), "pwritev2(30+40, -1, 0)");
	probe(fd, "append");
	DO(fd, NULL, lseek(fd, 9500, SEEK_SET), "lseek(9500, SEEK_SET)");
	DO(fd, NULL, pwritev(fd, iov, 2, 100), "pwritev(30+40, 100)");
	probe(fd, "append");
	DO(fd, NULL, lseek(fd, 12000, SEEK_SET), "lseek(12000, SEEK_SET)");
	DO(fd, NULL, ftruncate(fd, 11000), "ftruncate(11000)");
	DO(fd, NULL, write(fd, wdata(10, 24), 10), "write(10)");
	probe(fd, "append");
	DO(fd, NULL, lseek(fd, 500, SEEK_SET), "lseek(500, SEEK_SET)");
	DO(fd, NULL, fcntl(fd, F_SETFL, 0), "fcntl(F_SETFL, 0): O_APPEND off");
	DO(fd, NULL, write(fd, wdata(10, 25), 10), "write(10)");
	probe(fd, "append");
	whole(fd, "append");
	close(fd);
}

static void setfl_cases(void)
{
	void *aligned;
	int fd;

	section("fcntl(F_SETFL): O_APPEND turned on mid-file, O_DIRECT");
	fd = map_rw("setfl", O_RDWR, 6);
	DO(fd, NULL, lseek(fd, 30000, SEEK_SET), "lseek(30000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, fcntl(fd, F_SETFL, O_APPEND), "fcntl(F_SETFL, O_APPEND)");
	probe(fd, "setfl");
	DO(fd, NULL, write(fd, wdata(100, 30), 100), "write(100)");
	probe(fd, "setfl");
	DO(fd, NULL, lseek(fd, 31000, SEEK_SET), "lseek(31000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, fcntl(fd, F_SETFL, 0), "fcntl(F_SETFL, 0)");
	DO(fd, NULL, write(fd, wdata(100, 31), 100), "write(100)");
	probe(fd, "setfl");

	DO(fd, NULL, fcntl(fd, F_SETFL, O_DIRECT),
	   "fcntl(F_SETFL, O_DIRECT)");
	printf("   O_DIRECT now: %s\n",
	       fcntl(fd, F_GETFL) & O_DIRECT ? "on" : "off");
	probe(fd, "setfl");
	if (posix_memalign(&aligned, 4096, 8192) != 0)
		die("posix_memalign");
	DO(fd, NULL, lseek(fd, 8192, SEEK_SET), "lseek(8192, SEEK_SET)");
	DO(fd, aligned, read(fd, aligned, 4096), "read(4096) aligned");
	memcpy(aligned, wdata(4096, 32), 4096);
	DO(fd, NULL, write(fd, aligned, 4096), "write(4096) aligned");
	DO(fd, NULL, pwrite(fd, aligned, 4096, 4096),
	   "pwrite(4096, 4096) aligned");
	DO(fd, aligned, read(fd, aligned, 8192), "read(8192) aligned");
	probe(fd, "setfl");
	DO(fd, NULL, fcntl(fd, F_SETFL, 0), "fcntl(F_SETFL, 0)");
	probe(fd, "setfl");
	DO(fd, NULL, lseek(fd, 4000, SEEK_SET), "lseek(4000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	probe(fd, "setfl");
	free(aligned);
	whole(fd, "setfl");
	close(fd);
}

/* The offset through each of n names: they must agree. */
static void offsets(const int *fds, const char *const *names, int n)
{
	printf("   offsets:");
	for (int i = 0; i < n; i++)
		printf(" %s=%lld", names[i],
		       (long long)lseek(fds[i], 0, SEEK_CUR));
	putchar('\n');
}

static void dup_cases(void)
{
	static const char *const names[] = { "fd", "dup", "F_DUPFD" };
	struct iovec iov[2];
	int fds[3];

	section("dup'ed O_RDWR fds share the offset through writes");
	fds[0] = map_rw("dup", O_RDWR, 7);
	fds[1] = dup(fds[0]);
	fds[2] = fcntl(fds[0], F_DUPFD_CLOEXEC, 50);
	if (fds[1] < 0 || fds[2] < 0)
		die("dup");
	DO(fds[1], NULL, write(fds[1], wdata(300, 40), 300), "write(dup, 300)");
	offsets(fds, names, 3);
	probe(fds[0], "fd");
	iov[0] = (struct iovec){ (void *)wdata(50, 41), 50 };
	iov[1] = (struct iovec){ (void *)wdata(60, 42), 60 };
	DO(fds[2], NULL, writev(fds[2], iov, 2), "writev(F_DUPFD, 50+60)");
	offsets(fds, names, 3);
	probe(fds[1], "dup");
	DO(fds[0], NULL, lseek(fds[0], 60000, SEEK_SET),
	   "lseek(fd, 60000, SEEK_SET)");
	DO(fds[1], NULL, ftruncate(fds[1], 55000),
	   "ftruncate(dup, 55000): below the offset");
	offsets(fds, names, 3);
	probe(fds[2], "F_DUPFD");
	DO(fds[2], NULL, write(fds[2], wdata(100, 43), 100),
	   "write(F_DUPFD, 100) past the end");
	probe(fds[0], "fd");
	DO(fds[0], NULL, lseek(fds[0], 30000, SEEK_SET),
	   "lseek(fd, 30000, SEEK_SET)");
	DO(fds[2], NULL,
	   fallocate(fds[2], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		     28672, 8192),
	   "fallocate(F_DUPFD, PUNCH_HOLE|KEEP_SIZE, 28672, 8192)");
	probe(fds[1], "dup");
	DO(fds[2], NULL, dprintf(fds[2], "dprintf through F_DUPFD\n"),
	   "dprintf(F_DUPFD)");
	offsets(fds, names, 3);
	probe(fds[0], "fd");
	DO(fds[1], NULL, pwritev2(fds[1], iov, 2, -1, 0),
	   "pwritev2(dup, 50+60, -1, 0)");
	offsets(fds, names, 3);
	probe(fds[2], "F_DUPFD");
	DO(fds[1], NULL, fcntl(fds[1], F_SETFL, O_APPEND),
	   "fcntl(dup, F_SETFL, O_APPEND)");
	DO(fds[0], NULL, lseek(fds[0], 1000, SEEK_SET),
	   "lseek(fd, 1000, SEEK_SET)");
	DO(fds[0], NULL, write(fds[0], wdata(20, 44), 20),
	   "write(fd, 20): appends");
	offsets(fds, names, 3);
	probe(fds[2], "F_DUPFD");
	DO(fds[0], NULL, close(fds[0]), "close(fd)");
	DO(fds[1], NULL, write(fds[1], wdata(20, 45), 20), "write(dup, 20)");
	offsets(fds + 1, names + 1, 2);
	probe(fds[2], "F_DUPFD");
	whole(fds[1], "dup");
	close(fds[1]);
	close(fds[2]);
}

static void two_opens(void)
{
	int a, b, c;

	section("two independent O_RDWR opens of one file, "
		"and an O_RDONLY one");
	a = map_rw("two", O_RDWR, 8);
	b = open(dpath("two"), O_RDWR | O_CLOEXEC);
	c = open_ro("two");
	if (b < 0)
		die("open two again");
	for (int i = 0; i < 4; i++) {
		DO(b, buf, read(b, buf, 1000), "read(b, 1000)");
		DO(c, buf, read(c, buf, 1000), "read(c, 1000)");
	}
	DO(a, NULL, lseek(a, 10000, SEEK_SET), "lseek(a, 10000, SEEK_SET)");
	DO(b, NULL, lseek(b, 10000, SEEK_SET), "lseek(b, 10000, SEEK_SET)");
	DO(c, NULL, lseek(c, 10000, SEEK_SET), "lseek(c, 10000, SEEK_SET)");
	DO(b, NULL, write(b, wdata(500, 50), 500), "write(b, 500)");
	probe(a, "a");
	probe(b, "b");
	probe(c, "c");
	DO(a, NULL, write(a, wdata(500, 51), 500), "write(a, 500)");
	probe(b, "b");
	probe(c, "c");
	DO(b, NULL, lseek(b, 0, SEEK_END), "lseek(b, 0, SEEK_END)");
	DO(b, NULL, write(b, wdata(8000, 52), 8000), "write(b, 8000): grows");
	DO(a, NULL, lseek(a, -9000, SEEK_END), "lseek(a, -9000, SEEK_END)");
	for (int i = 0; i < 3; i++)
		DO(a, buf, read(a, buf, 4096), "read(a, 4096)");
	probe(a, "a");
	DO(c, NULL, lseek(c, -9000, SEEK_END), "lseek(c, -9000, SEEK_END)");
	DO(c, buf, read(c, buf, 4096), "read(c, 4096)");
	DO(b, NULL, ftruncate(b, 5000), "ftruncate(b, 5000)");
	probe(a, "a");
	probe(c, "c");
	DO(a, NULL, lseek(a, 4000, SEEK_SET), "lseek(a, 4000, SEEK_SET)");
	DO(a, buf, read(a, buf, 4096), "read(a, 4096): short");
	probe(a, "a");
	DO(a, NULL, ftruncate(a, 200000), "ftruncate(a, 200000)");
	DO(a, NULL, pwrite(a, wdata(3000, 53), 3000, 100000),
	   "pwrite(a, 3000, 100000)");
	DO(b, NULL, lseek(b, 99000, SEEK_SET), "lseek(b, 99000, SEEK_SET)");
	DO(b, buf, read(b, buf, 4096), "read(b, 4096)");
	probe(b, "b");
	DO(c, NULL, lseek(c, 102000, SEEK_SET), "lseek(c, 102000, SEEK_SET)");
	DO(c, buf, read(c, buf, 2000), "read(c, 2000)");
	whole(a, "two");
	close(a);
	close(b);
	close(c);
}

static void fresh_file(void)
{
	struct mmapread_stats before, after;
	int fd;

	section("a file created empty, written, then read in small chunks");
	fd = open(dpath("fresh"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		die("create fresh");
	append_pattern(fd, 0, DATA_SIZE, 9);
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(0, SEEK_SET)");
	get_stats(&before);
	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	get_stats(&after);
	preload_check("writes: fresh is mapped after being written",
		      after.files_mapped > before.files_mapped);
	DO(fd, NULL, write(fd, wdata(2000, 60), 2000), "write(2000)");
	probe(fd, "fresh");
	DO(fd, NULL, lseek(fd, -2100, SEEK_CUR), "lseek(-2100, SEEK_CUR)");
	DO(fd, buf, read(fd, buf, 2000), "read(2000): what was written");
	append_pattern(fd, 0, 5000, 61);
	probe(fd, "fresh");
	whole(fd, "fresh");
	close(fd);
}

/* A read-only mapped fd: FIONREAD, and writes refused in place. */
static void read_only(void)
{
	int fd, wr;

	section("a mapped O_RDONLY fd: FIONREAD, refused writes");
	make_file("ro", DATA_SIZE, 11);
	fd = open_ro("ro");
	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(ro, 1000)");
	probe(fd, "ro");
	DO(fd, NULL, lseek(fd, 100000, SEEK_SET), "lseek(100000, SEEK_SET)");
	probe(fd, "ro");
	DO(fd, NULL, write(fd, "x", 1), "write(1)");
	DO(fd, NULL, pwrite(fd, "x", 1, 0), "pwrite(1, 0)");
	DO(fd, NULL, ftruncate(fd, 10), "ftruncate(10)");
	DO(fd, NULL, fallocate(fd, 0, 0, 4096), "fallocate(0, 0, 4096)");
	DO(fd, NULL, posix_fallocate(fd, 0, 4096), "posix_fallocate(0, 4096)");
	DO(fd, NULL, dprintf(fd, "no"), "dprintf");
	probe(fd, "ro");
	wr = open(dpath("ro"), O_WRONLY | O_APPEND | O_CLOEXEC);
	if (wr < 0)
		die("open ro for writing");
	append_pattern(wr, 0, 5000, 12);
	DO(fd, NULL, lseek(fd, -3000, SEEK_END), "lseek(-3000, SEEK_END)");
	probe(fd, "ro");
	DO(wr, NULL, ftruncate(wr, 50000), "ftruncate(other, 50000)");
	probe(fd, "ro");
	close(wr);
	whole(fd, "ro");
	close(fd);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	singles();
	grow_shrink();
	fallocate_cases();
	dprintf_cases();
	append_cases();
	setfl_cases();
	dup_cases();
	two_opens();
	fresh_file();
	read_only();
	return 0;
}
