/*
 * dup_sharing: every duplicate of an fd shares one file offset.
 *
 * A file is mapped by reading small chunks, then duplicated with dup,
 * dup2, dup3, fcntl(F_DUPFD) and fcntl(F_DUPFD_CLOEXEC); reads, preads,
 * readvs and lseeks through every name are interleaved, and after each step
 * the offset seen through every open name is printed: they must agree, and
 * agree with the kernel's. Then some names are closed (or dup2'ed over with
 * another file) and reading goes on through the rest, to end of file.
 * A second file is duplicated before its first read, so that the requests
 * that decide the mapping come through different names.
 *
 * Built with _FORTIFY_SOURCE, so that read() and pread() on buffers of known
 * size reach mmapread as __read_chk and __pread64_chk.
 */
#include "common.h"

#include <sys/uio.h>

#define FILE_SIZE (512 * 1024 + 333)
#define NFDS 6

static int fds[NFDS];
static const char *names[NFDS] = { "orig", "dup", "dup2", "dup3",
				   "F_DUPFD", "F_DUPFD_CLOEXEC" };
static bool open_[NFDS];

/* The offset through every open name; "SAME" when they all agree. */
static void show_offsets(void)
{
	long long first = -2;
	bool same = true;

	printf("   offsets:");
	for (int i = 0; i < NFDS; i++) {
		long long off;

		if (!open_[i])
			continue;
		off = lseek(fds[i], 0, SEEK_CUR);
		printf(" %s=%lld", names[i], off);
		if (first == -2)
			first = off;
		else if (off != first)
			same = false;
	}
	printf(" %s\n", same ? "SAME" : "DIFFERENT");
}

/* A count the compiler cannot bound, so that fortified read() and pread()
 * go through __read_chk and __pread64_chk. */
static size_t opaque(size_t n)
{
	__asm__("" : "+r"(n));
	return n;
}

static int fd_flags(int fd)
{
	return fcntl(fd, F_GETFD);
}

static void interleave(int rounds, unsigned int salt)
{
	char buf[8192];
	char a[700], b[1300];

	for (int r = 0; r < rounds; r++) {
		int i = (int)((r * 7 + salt) % NFDS);
		size_t n = (size_t)((r * 997 + salt * 31) % 4000) + 1;

		while (!open_[i])
			i = (i + 1) % NFDS;
		switch ((r + salt) % 6) {
		case 0:
		case 1:
		case 2:
			DO(-1, buf, read(fds[i], buf, opaque(n)), "read(%s, %zu)",
			   names[i], n);
			break;
		case 3: {
			struct iovec iov[2] = { { a, sizeof(a) },
						{ b, sizeof(b) } };

			DOV(-1, iov, 2, readv(fds[i], iov, 2), "readv(%s, 700+1300)",
			    names[i]);
			break;
		}
		case 4: {
			off_t at = (off_t)((r * 12345 + salt) % FILE_SIZE);

			DO(-1, buf, pread(fds[i], buf, opaque(n), at),
			   "pread(%s, %zu, %lld)", names[i], n, (long long)at);
			break;
		}
		default: {
			off_t delta = (off_t)(r % 3) - 1;

			DO(-1, NULL, lseek(fds[i], delta * (off_t)n, SEEK_CUR),
			   "lseek(%s, %lld, SEEK_CUR)", names[i],
			   (long long)(delta * (off_t)n));
			break;
		}
		}
		show_offsets();
	}
}

static void read_to_eof(void)
{
	char buf[4096];
	uint64_t hash = FNV_INIT;
	long long total = 0;
	int i = 0, calls = 0;

	for (;;) {
		ssize_t n;

		while (!open_[i % NFDS])
			i++;
		errno = ERRNO_CANARY;
		n = read(fds[i % NFDS], buf, opaque(1000 + (size_t)(calls % 3) * 1000));
		if (n < 0) {
			printf("read to eof: %s\n", errname(errno));
			break;
		}
		if (errno != ERRNO_CANARY)
			printf("read to eof: errno changed on success\n");
		if (n == 0)
			break;
		hash = fnv1a(hash, buf, (size_t)n);
		total += n;
		calls++;
		i++;
	}
	printf("read to eof through every open name: %lld bytes in %d calls sum=%016" PRIx64
	       "\n", total, calls, hash);
	show_offsets();
}

int main(int argc, char **argv)
{
	char buf[4096];
	struct mmapread_stats before, after;
	int other, g1, g2;

	setup(argc, argv);
	make_file("data", FILE_SIZE, 1);
	make_file("other", 300 * 1024, 2);
	make_file("second", 400 * 1024, 3);

	section("map the file through the original fd");
	fds[0] = open(dpath("data"), O_RDONLY);
	if (fds[0] < 0)
		die("open data");
	open_[0] = true;
	for (int i = 0; i < 4; i++)
		DO(fds[0], buf, read(fds[0], buf, 1000), "read(orig, 1000)");

	section("duplicate it every way");
	DO(-1, NULL, (fds[1] = dup(fds[0])) > fds[0], "dup(orig) > orig");
	fds[2] = (int)DO(-1, NULL, dup2(fds[0], 100), "dup2(orig, 100)");
	fds[3] = (int)DO(-1, NULL, dup3(fds[0], 101, O_CLOEXEC),
			 "dup3(orig, 101, O_CLOEXEC)");
	DO(-1, NULL, (fds[4] = fcntl(fds[0], F_DUPFD, 200)) >= 200,
	   "fcntl(orig, F_DUPFD, 200) >= 200");
	DO(-1, NULL, (fds[5] = fcntl(fds[0], F_DUPFD_CLOEXEC, 300)) >= 300,
	   "fcntl(orig, F_DUPFD_CLOEXEC, 300) >= 300");
	for (int i = 0; i < NFDS; i++) {
		if (fds[i] < 0)
			die("duplicate %s", names[i]);
		open_[i] = true;
	}
	printf("FD_CLOEXEC: dup3=%d F_DUPFD_CLOEXEC=%d dup=%d\n",
	       fd_flags(fds[3]) & FD_CLOEXEC, fd_flags(fds[5]) & FD_CLOEXEC,
	       fd_flags(fds[1]) & FD_CLOEXEC);
	DO(-1, NULL, dup2(fds[2], fds[2]), "dup2(dup2, dup2) (same fd)");
	DO(-1, NULL, dup3(fds[2], fds[2], 0), "dup3(dup2, dup2, 0) (same fd)");
	DO(-1, NULL, dup3(fds[2], 102, 12345), "dup3(dup2, 102, bad flags)");
	DO(-1, NULL, dup(-1), "dup(-1)");
	DO(-1, NULL, fcntl(fds[0], F_DUPFD, -1), "fcntl(orig, F_DUPFD, -1)");
	show_offsets();

	section("reads and seeks through every name, one offset");
	get_stats(&before);
	interleave(60, 0);
	DO(-1, NULL, lseek(fds[3], 4096, SEEK_SET), "lseek(dup3, 4096, SEEK_SET)");
	show_offsets();
	DO(-1, NULL, lseek(fds[4], -10, SEEK_END), "lseek(F_DUPFD, -10, SEEK_END)");
	show_offsets();
	DO(-1, buf, read(fds[5], buf, 100), "read(F_DUPFD_CLOEXEC, 100)");
	show_offsets();
	DO(-1, buf, read(fds[1], buf, 100), "read(dup, 100) at eof");
	DO(-1, NULL, lseek(fds[2], 1000, SEEK_SET), "lseek(dup2, 1000, SEEK_SET)");
	interleave(40, 3);
	get_stats(&after);
	preload_check("dup_sharing: the duplicates were served from the mapping",
		      served_total(&after) > served_total(&before));

	section("close some names, keep reading through the others");
	DO(-1, NULL, close(fds[0]), "close(orig)");
	open_[0] = false;
	DO(-1, NULL, close(fds[3]), "close(dup3)");
	open_[3] = false;
	interleave(20, 5);
	DO(-1, NULL, close(fds[3]), "close(dup3) again");

	section("dup2 another file over one name");
	other = open(dpath("other"), O_RDONLY);
	if (other < 0)
		die("open other");
	for (int i = 0; i < 3; i++)
		DO(other, buf, read(other, buf, 2000), "read(other, 2000)");
	DO(-1, NULL, dup2(other, fds[4]), "dup2(other, F_DUPFD)");
	open_[4] = false;
	DO(fds[4], buf, read(fds[4], buf, 500), "read(F_DUPFD now other, 500)");
	DO(other, buf, read(other, buf, 500), "read(other, 500)");
	show_offsets();
	DO(-1, NULL, lseek(fds[1], 5000, SEEK_SET), "lseek(dup, 5000, SEEK_SET)");
	interleave(20, 7);
	DO(fds[4], NULL, lseek(fds[4], 0, SEEK_CUR), "lseek(F_DUPFD now other, 0, SEEK_CUR)");
	DO(other, NULL, close(other), "close(other)");
	DO(fds[4], buf, read(fds[4], buf, 500), "read(F_DUPFD now other, 500)");

	section("read the rest through the remaining names");
	read_to_eof();
	DO(-1, NULL, lseek(fds[1], 0, SEEK_SET), "lseek(dup, 0, SEEK_SET)");
	read_to_eof();

	section("duplicated before its first read");
	g1 = open(dpath("second"), O_RDONLY);
	if (g1 < 0)
		die("open second");
	g2 = dup(g1);
	if (g2 < 0)
		die("dup second");
	for (int i = 0; i < 40; i++) {
		int fd = i % 2 ? g2 : g1;

		DO(fd, buf, read(fd, buf, 512 + (size_t)i * 7),
		   "read(second%s, %d)", i % 2 ? "-dup" : "", 512 + i * 7);
	}
	DO(g1, NULL, close(g2), "close(second-dup)");
	DO(g1, buf, read(g1, buf, 4096), "read(second, 4096)");
	DO(g1, NULL, lseek(g1, -4096, SEEK_CUR), "lseek(second, -4096, SEEK_CUR)");
	DO(g1, buf, read(g1, buf, 4096), "read(second, 4096)");
	DO(-1, NULL, close(g1), "close(second)");

	for (int i = 0; i < NFDS; i++) {
		if (open_[i]) {
			DO(-1, NULL, close(fds[i]), "close(%s)", names[i]);
			open_[i] = false;
		}
	}
	DO(-1, NULL, close(fds[4]), "close(F_DUPFD now other)");
	return 0;
}
