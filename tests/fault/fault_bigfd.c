/*
 * fault_bigfd: fd numbers at the top of a huge RLIMIT_NOFILE.
 *
 * mmapread's fd table is indexed by fd number; a program may raise
 * RLIMIT_NOFILE to the kernel's nr_open (1048576 by default) and put files
 * on the highest fds, by dup2() or F_DUPFD. Reads there must be served (or
 * handed to the kernel) like anywhere else, offsets shared by dup()s, and
 * a close must forget the fd. With the limit at 1048576 (root may raise
 * the hard limit; a container may not let it: then the hard limit is used,
 * 20000 here):
 *  - a file dup2()ed onto limit-576 and limit-1 (the last fd), read in small
 *    pieces through both (one description, one offset), lseek, dup;
 *  - F_DUPFD from limit-6; close of the highest and reuse of its number
 *    for another file;
 *  - dup2() beyond the limit fails with EBADF, as natively.
 */
#include "../programs/common.h"

#define WANT_NOFILE 1048576
#define FILE_SIZE (256 * 1024)

static char buf[4096];
static int NOFILE, FD_A, FD_LAST;

/*
 * RLIMIT_NOFILE at 1048576, or at the hard limit where the hard limit
 * cannot be raised (a container without CAP_SYS_RESOURCE, even as root).
 */
static void raise_nofile(void)
{
	struct rlimit lim = { WANT_NOFILE, WANT_NOFILE };

	if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
		if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
			die("getrlimit(RLIMIT_NOFILE)");
		lim.rlim_cur = lim.rlim_max;
		if (lim.rlim_cur > WANT_NOFILE)
			lim.rlim_cur = WANT_NOFILE;
		if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
			die("setrlimit(RLIMIT_NOFILE, hard limit)");
	}
	NOFILE = (int)lim.rlim_cur;
	if (NOFILE < 1024)
		die("RLIMIT_NOFILE hard limit %d too low", NOFILE);
	FD_LAST = NOFILE - 1;
	FD_A = NOFILE - 576;
	printf("RLIMIT_NOFILE = %d\n", NOFILE);
}

static void small_reads(int fd, int n)
{
	for (int i = 0; i < n; i++)
		DO(fd, buf, read(fd, buf, 100), "fd %d: read(100)", fd);
}

int main(int argc, char **argv)
{
	struct mmapread_stats st;
	int fd, low;
	long long dup_fd;

	setup(argc, argv);
	make_file("one", FILE_SIZE, 1);
	make_file("two", FILE_SIZE, 2);
	raise_nofile();

	section("one description on fds NOFILE - 576 and NOFILE - 1");
	fd = open_ro("one");
	DO(-1, NULL, dup2(fd, FD_A), "dup2(fd, %d)", FD_A);
	DO(-1, NULL, dup2(fd, FD_LAST), "dup2(fd, %d)", FD_LAST);
	close(fd);
	small_reads(FD_A, 5);
	small_reads(FD_LAST, 5);
	small_reads(FD_A, 5);
	DO(FD_LAST, NULL, lseek(FD_LAST, 12345, SEEK_SET), "lseek(%d, 12345)",
	   FD_LAST);
	small_reads(FD_A, 3);
	DO(FD_A, buf, pread(FD_A, buf, 200, FILE_SIZE - 100), "pread(end-100)");
	DO(FD_A, NULL, lseek(FD_A, -150, SEEK_END), "lseek(-150, SEEK_END)");
	small_reads(FD_LAST, 3);

	section("dup() and F_DUPFD near the top");
	low = dup(FD_LAST);
	printf("dup(%d) %s\n", FD_LAST, low >= 0 ? "succeeds" : errname(errno));
	DO(low, NULL, lseek(low, 100, SEEK_SET), "low dup: lseek(100)");
	small_reads(FD_A, 2);
	dup_fd = DO(-1, NULL, fcntl(FD_A, F_DUPFD, NOFILE - 6),
		    "fcntl(%d, F_DUPFD, %d)", FD_A, NOFILE - 6);
	small_reads((int)dup_fd, 2);
	DO(-1, NULL, close(low), "close(low dup)");

	section("the last fd closed and reused for another file");
	DO(-1, NULL, close(FD_LAST), "close(%d)", FD_LAST);
	DO(FD_LAST, buf, read(FD_LAST, buf, 10), "read(closed %d)", FD_LAST);
	fd = open_ro("two");
	DO(-1, NULL, dup2(fd, FD_LAST), "dup2(two, %d)", FD_LAST);
	close(fd);
	small_reads(FD_LAST, 6);
	DO(FD_LAST, NULL, lseek(FD_LAST, 0, SEEK_END), "lseek(0, SEEK_END)");
	small_reads(FD_LAST, 1);
	small_reads(FD_A, 2);

	section("beyond the limit");
	DO(-1, NULL, dup2(FD_A, NOFILE), "dup2(%d, %d)", FD_A, NOFILE);
	DO(-1, NULL, fcntl(FD_A, F_DUPFD, NOFILE), "fcntl(F_DUPFD, %d)",
	   NOFILE);
	DO(NOFILE, buf, read(NOFILE, buf, 10), "read(%d)", NOFILE);

	for (int i = 0; i < 3; i++) {
		int f = i == 0 ? FD_A : i == 1 ? FD_LAST : (int)dup_fd;

		DO(-1, NULL, close(f), "close(%d)", f);
	}
	if (get_stats(&st))
		preload_check("both files mapped", st.files_mapped >= 2);
	return 0;
}
