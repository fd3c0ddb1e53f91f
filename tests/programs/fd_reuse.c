/*
 * fd_reuse: a closed fd number that comes back means something new.
 *
 * A file is opened on the lowest free number N and mapped, then N is
 * closed (or replaced) through every name that can do it: close,
 * close_range(N, N, 0), close_range with CLOSE_RANGE_UNSHARE, closefrom,
 * dup2/dup3 of something else onto N, fclose of an fdopen'ed stream (glibc
 * closes internally there), and the number comes back as a pipe (pipe2
 * gives the lowest free numbers), a socket, a memfd, an fcntl(F_DUPFD)
 * duplicate or another regular file. Reading N must read the new object:
 * "PIPE" from the pipe, never bytes of the old file's mapping.
 *
 * close_range(N, N, CLOSE_RANGE_CLOEXEC) closes nothing: reading goes on
 * from the mapping at the right offset. Calls the kernel refuses
 * (first > last, unknown flags) forget nothing either.
 */
#include "common.h"

#include <linux/close_range.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define DATA_SIZE (300 * 1024)

enum closer {
	C_CLOSE,
	C_CLOSE_RANGE,
	C_CLOSE_RANGE_UNSHARE,
	C_CLOSEFROM,
	C_FCLOSE,
	C_DUP2,
	C_DUP3,
	C_DUP3_CLOEXEC,
};

enum reuser { R_PIPE, R_SOCKET, R_MEMFD, R_F_DUPFD, R_OPEN };

static const char *closer_name[] = {
	"close(N)", "close_range(N, N, 0)",
	"close_range(N, ~0U, CLOSE_RANGE_UNSHARE)", "closefrom(N)",
	"fclose(fdopen(N))", "dup2(pipe, N)", "dup3(pipe, N, 0)",
	"dup3(pipe, N, O_CLOEXEC)",
};

static const char *reuser_name[] = { "a pipe", "a socket", "a memfd",
				     "fcntl(pipe, F_DUPFD, N)",
				     "open() of another file" };

static char buf[65536];

/* Open data on the lowest free number and map it with small reads. */
static int open_and_map(const char *name)
{
	int fd = open_ro(name);

	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(N, 1000)");
	return fd;
}

static void close_it(enum closer how, int n)
{
	FILE *f;

	switch (how) {
	case C_CLOSE:
		DO(-1, NULL, close(n), "close(N)");
		break;
	case C_CLOSE_RANGE:
		DO(-1, NULL, close_range((unsigned)n, (unsigned)n, 0),
		   "close_range(N, N, 0)");
		break;
	case C_CLOSE_RANGE_UNSHARE:
		DO(-1, NULL, close_range((unsigned)n, ~0U, CLOSE_RANGE_UNSHARE),
		   "close_range(N, ~0U, CLOSE_RANGE_UNSHARE)");
		break;
	case C_CLOSEFROM:
		errno = ERRNO_CANARY;
		closefrom(n);
		printf("closefrom(N)%s\n", errno == ERRNO_CANARY ? "" :
		       " ERRNO-CHANGED");
		break;
	case C_FCLOSE:
		f = fdopen(n, "r");
		if (!f)
			die("fdopen");
		DO(-1, NULL, fclose(f), "fclose(fdopen(N, \"r\"))");
		break;
	default:
		break;
	}
}

static void expect_pipe_at(int n, int wr)
{
	static const char *const words[] = { "PIPE", "pipe again",
					     "third", "4", "fifth write" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		long long got;

		write_all(wr, words[i], strlen(words[i]));
		got = DO(-1, buf, read(n, buf, 4096), "read(N, 4096)");
		if (got > 0)
			printf("   got \"%.*s\"\n", (int)got, buf);
	}
	DO(-1, NULL, lseek(n, 0, SEEK_CUR), "lseek(N, 0, SEEK_CUR)");
	DO(-1, buf, pread(n, buf, 10, 0), "pread(N, 10, 0)");
}

static void one_case(enum closer how, enum reuser with)
{
	struct mmapread_stats before, after;
	int n, p[2] = { -1, -1 }, got = -1, other = -1;
	char what[200];

	snprintf(what, sizeof(what), "%s, the number comes back as %s",
		 closer_name[how], reuser_name[with]);
	section(what);
	get_stats(&before);
	n = open_and_map("data");
	get_stats(&after);
	snprintf(what, sizeof(what), "fd_reuse: mapped before %s",
		 closer_name[how]);
	preload_check(what, after.files_mapped == before.files_mapped + 1);

	if (how >= C_DUP2) {
		if (pipe2(p, 0) != 0)
			die("pipe2");
		if (how == C_DUP2)
			got = (int)DO(-1, NULL, dup2(p[0], n) == n,
				      "dup2(pipe, N) == N");
		else
			got = (int)DO(-1, NULL,
				      dup3(p[0], n, how == C_DUP3 ? 0 : O_CLOEXEC) == n,
				      "%s == N", closer_name[how]);
		close(p[0]);
		printf("FD_CLOEXEC of N: %d\n", fcntl(n, F_GETFD) & FD_CLOEXEC);
		expect_pipe_at(n, p[1]);
		close(p[1]);
		close(n);
		return;
	}

	close_it(how, n);
	switch (with) {
	case R_PIPE:
		if (pipe2(p, 0) != 0)
			die("pipe2");
		printf("the pipe's read end has the number N: %s\n",
		       p[0] == n ? "yes" : "no");
		expect_pipe_at(p[0], p[1]);
		break;
	case R_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) != 0)
			die("socketpair");
		printf("the socket has the number N: %s\n",
		       p[0] == n ? "yes" : "no");
		expect_pipe_at(p[0], p[1]);
		break;
	case R_MEMFD:
		got = memfd_create("reuse", 0);
		if (got < 0)
			die("memfd_create");
		printf("the memfd has the number N: %s\n",
		       got == n ? "yes" : "no");
		append_pattern(got, 0, DATA_SIZE, 99);
		DO(got, NULL, lseek(got, 1000, SEEK_SET), "lseek(N, 1000, SEEK_SET)");
		for (int i = 0; i < 6; i++)
			DO(got, buf, read(got, buf, 1000), "read(N, 1000)");
		DO(got, buf, pread(got, buf, 1000, 0), "pread(N, 1000, 0)");
		close(got);
		break;
	case R_F_DUPFD:
		if (pipe2(p, O_CLOEXEC) != 0)
			die("pipe2");
		/* The pipe took N and N+1: move its read end up... */
		other = fcntl(p[0], F_DUPFD, n + 10);
		close(p[0]);
		/* ...and back down onto N. */
		p[0] = (int)DO(-1, NULL, fcntl(other, F_DUPFD, n) == n,
			       "fcntl(pipe, F_DUPFD, N) == N");
		p[0] = n;
		close(other);
		expect_pipe_at(p[0], p[1]);
		break;
	case R_OPEN:
		got = open_ro("other");
		printf("the other file has the number N: %s\n",
		       got == n ? "yes" : "no");
		for (int i = 0; i < 6; i++)
			DO(got, buf, read(got, buf, 1000), "read(N, 1000)");
		DO(got, buf, pread(got, buf, 1000, 0), "pread(N, 1000, 0)");
		close(got);
		break;
	}
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

/* Two mapped files, closed by one close_range, both numbers reused. */
static void range_of_two(void)
{
	int a, b, p[2];

	section("close_range over two mapped files, both numbers reused");
	a = open_and_map("data");
	b = open_and_map("other");
	DO(-1, NULL, close_range((unsigned)a, (unsigned)b, 0), "close_range(N, N+1, 0)");
	if (pipe2(p, 0) != 0)
		die("pipe2");
	printf("the pipe has N and N+1: %s\n",
	       p[0] == a && p[1] == b ? "yes" : "no");
	/* Reading the write end of a pipe: EBADF, not the old file. */
	DO(-1, buf, read(p[1], buf, 100), "read(N+1 = pipe write end, 100)");
	DO(-1, NULL, lseek(p[1], 0, SEEK_CUR), "lseek(N+1, 0, SEEK_CUR)");
	expect_pipe_at(p[0], p[1]);
	close(p[0]);
	close(p[1]);
}

/* Calls that close nothing must forget nothing. */
static void nothing_closed(void)
{
	struct mmapread_stats before, after;
	int n, dupped;

	section("close_range(N, N, CLOSE_RANGE_CLOEXEC) and refused calls close nothing");
	n = open_and_map("data");
	DO(n, NULL, close_range((unsigned)n, (unsigned)n, CLOSE_RANGE_CLOEXEC),
	   "close_range(N, N, CLOSE_RANGE_CLOEXEC)");
	printf("FD_CLOEXEC of N: %d\n", fcntl(n, F_GETFD) & FD_CLOEXEC);
	get_stats(&before);
	for (int i = 0; i < 5; i++)
		DO(n, buf, read(n, buf, 1000), "read(N, 1000)");
	get_stats(&after);
	preload_check("fd_reuse: still served after CLOSE_RANGE_CLOEXEC",
		      after.reads_served > before.reads_served);
	DO(n, NULL, close_range((unsigned)n + 1, (unsigned)n, 0),
	   "close_range(N+1, N, 0)");
	DO(n, NULL, close_range((unsigned)n, (unsigned)n, 0x80),
	   "close_range(N, N, 0x80)");
	DO(n, NULL, close_range((unsigned)n, (unsigned)n, -1),
	   "close_range(N, N, -1)");
	DO(n, NULL,
	   close_range((unsigned)n, ~0U, CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE),
	   "close_range(N, ~0U, CLOSE_RANGE_CLOEXEC|CLOSE_RANGE_UNSHARE)");
	DO(n, NULL, close_range((unsigned)n + 100, (unsigned)n + 200, 0),
	   "close_range(N+100, N+200, 0)");
	DO(n, NULL, dup2(n, n) == n, "dup2(N, N) == N");
	DO(n, NULL, dup3(n, n, 0), "dup3(N, N, 0)");
	DO(n, NULL, dup2(-1, n), "dup2(-1, N)");
	DO(n, NULL, dup2(n + 50, n), "dup2(unused, N)");
	DO(n, NULL, dup3(n + 50, n, 0), "dup3(unused, N, 0)");
	DO(n, NULL, close(n + 50), "close(unused)");
	get_stats(&before);
	for (int i = 0; i < 5; i++)
		DO(n, buf, read(n, buf, 1000), "read(N, 1000)");
	DO(n, NULL, lseek(n, -2500, SEEK_CUR), "lseek(N, -2500, SEEK_CUR)");
	DO(n, buf, read(n, buf, 1000), "read(N, 1000)");
	get_stats(&after);
	preload_check("fd_reuse: still served after refused calls",
		      after.reads_served > before.reads_served);

	/* A duplicate survives the close of the first name. */
	dupped = fcntl(n, F_DUPFD, n + 5);
	DO(-1, NULL, dupped > n, "fcntl(N, F_DUPFD, N+5) > N");
	DO(-1, NULL, close(n), "close(N)");
	DO(dupped, buf, read(dupped, buf, 1000), "read(dup, 1000)");
	close(dupped);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_file("data", DATA_SIZE, 10);
	make_file("other", DATA_SIZE, 11);

	one_case(C_CLOSE, R_PIPE);
	one_case(C_CLOSE_RANGE, R_PIPE);
	one_case(C_CLOSE_RANGE_UNSHARE, R_PIPE);
	one_case(C_CLOSEFROM, R_PIPE);
	one_case(C_FCLOSE, R_PIPE);
	one_case(C_DUP2, R_PIPE);
	one_case(C_DUP3, R_PIPE);
	one_case(C_DUP3_CLOEXEC, R_PIPE);
	one_case(C_CLOSE, R_SOCKET);
	one_case(C_CLOSE_RANGE, R_MEMFD);
	one_case(C_CLOSEFROM, R_F_DUPFD);
	one_case(C_CLOSE, R_OPEN);
	one_case(C_FCLOSE, R_MEMFD);
	range_of_two();
	nothing_closed();
	return 0;
}
