/*
 * bad_pointers: iovec arrays and lock structures the process cannot read.
 *
 * The kernel answers -1 EFAULT when readv's iovec array, or the struct
 * flock of a lock command, lies in memory the process cannot read. mmapread
 * looks at both (it counts the bytes a readv asks for; it checks whether a
 * lock is placed relative to the current offset) and must do so without
 * touching a bad pointer itself: the program gets EFAULT, as natively, and
 * no SIGSEGV. Each call is made on a description mmapread only watches and
 * again on one it has mapped, and the offset and the reads that follow
 * must be unaffected.
 */
#include "common.h"

#include <limits.h>
#include <sys/mman.h>

#define DATA_SIZE (256 * 1024)
#define PAGE 4096

#define KERNEL_ADDR ((void *)0xffff888000000000ul)

static char buf[4096];
static unsigned char *pages; /* [0] RW, [1] PROT_NONE */

/* Hide a value from the compiler's nonnull and object-size checks. */
static void *launder(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

static int lint(int n)
{
	__asm__("" : "+r"(n));
	return n;
}

static void bad_iovec_arrays(int fd)
{
	/* An array whose first vector is readable and whose second is on
	 * the PROT_NONE page. */
	struct iovec *straddle = (struct iovec *)(pages + PAGE) - 1;
	struct iovec *none = (struct iovec *)(pages + PAGE);

	straddle->iov_base = buf;
	straddle->iov_len = 16;
	DOV(fd, NULL, 0, readv(fd, launder(NULL), 1), "readv(NULL, 1)");
	DOV(fd, NULL, 0, readv(fd, launder((void *)8), 1),
	    "readv((struct iovec *)8, 1)");
	DOV(fd, NULL, 0, readv(fd, launder((void *)4096), 2),
	    "readv((struct iovec *)4096, 2)");
	DOV(fd, NULL, 0, readv(fd, launder(none), 1), "readv(PROT_NONE array, 1)");
	DOV(fd, NULL, 0, readv(fd, launder(KERNEL_ADDR), 1),
	    "readv(kernel address, 1)");
	DOV(fd, NULL, 0, readv(fd, launder(straddle), 2),
	    "readv(array of 2, the second on a PROT_NONE page)");
	DOV(fd, NULL, 0, readv(fd, launder(NULL), 0), "readv(NULL, 0)");
	DOV(fd, NULL, 0, readv(fd, launder(NULL), lint(-1)), "readv(NULL, -1)");
	DOV(fd, NULL, 0, readv(fd, launder(NULL), lint(IOV_MAX + 1)),
	    "readv(NULL, IOV_MAX + 1)");
	DOV(fd, NULL, 0, preadv(fd, launder(NULL), 1, 0), "preadv(NULL, 1, 0)");
	DOV(fd, NULL, 0, preadv(fd, launder((void *)8), 1, 100),
	    "preadv((struct iovec *)8, 1, 100)");
	DOV(fd, NULL, 0, preadv2(fd, launder(NULL), 1, -1, 0), "preadv2(NULL, 1, -1, 0)");
	DOV(fd, NULL, 0, preadv2(fd, launder((void *)8), 1, 0, 0),
	    "preadv2((struct iovec *)8, 1, 0, 0)");
	DOV(fd, NULL, 0, preadv2(fd, launder(none), 1, -1, RWF_HIPRI),
	    "preadv2(PROT_NONE array, 1, -1, RWF_HIPRI)");
}

static void bad_lock_pointers(int fd)
{
	static const struct { int cmd; const char *name; } cmds[] = {
		{ F_GETLK, "F_GETLK" },
		{ F_SETLK, "F_SETLK" },
		{ F_SETLKW, "F_SETLKW" },
		{ F_OFD_GETLK, "F_OFD_GETLK" },
		{ F_OFD_SETLK, "F_OFD_SETLK" },
		{ F_OFD_SETLKW, "F_OFD_SETLKW" },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		DO(fd, NULL, fcntl(fd, cmds[i].cmd, launder((void *)4096)),
		   "fcntl(%s, (struct flock *)4096)", cmds[i].name);
		DO(fd, NULL, fcntl(fd, cmds[i].cmd, launder(pages + PAGE)),
		   "fcntl(%s, PROT_NONE)", cmds[i].name);
		DO(fd, NULL, fcntl(fd, cmds[i].cmd, launder(NULL)),
		   "fcntl(%s, NULL)", cmds[i].name);
	}
	/* A good one still works, relative to the current offset. */
	{
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_CUR,
				    .l_start = 0, .l_len = 10 };

		DO(fd, NULL, fcntl(fd, F_OFD_GETLK, &fl),
		   "fcntl(F_OFD_GETLK, good, SEEK_CUR)");
		printf("   l_type=%s\n", fl.l_type == F_UNLCK ? "F_UNLCK" : "locked");
	}
}

static void read_on(int fd)
{
	for (int i = 0; i < 3; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	int fd;

	setup(argc, argv);
	make_file("data", DATA_SIZE, 31);
	pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || mprotect(pages + PAGE, PAGE, PROT_NONE) != 0)
		die("mmap the pages");

	section("a description mmapread watches (not mapped yet)");
	fd = open_ro("data");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	bad_iovec_arrays(fd);
	bad_lock_pointers(fd);
	close(fd);

	section("a description mmapread has mapped");
	fd = open_ro("data");
	read_on(fd);
	get_stats(&before);
	read_on(fd);
	get_stats(&after);
	preload_check("bad_pointers: the file is mapped",
		      after.reads_served > before.reads_served);
	bad_iovec_arrays(fd);
	bad_lock_pointers(fd);
	get_stats(&before);
	read_on(fd);
	get_stats(&after);
	preload_check("bad_pointers: still served afterwards",
		      after.reads_served > before.reads_served);
	close(fd);
	return 0;
}
