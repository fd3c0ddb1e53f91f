/*
 * stdio_fork: a read-only stream whose fd is shared with other processes.
 *
 * After fork() the parent and the child have the same FILE contents (the
 * buffer was copied) over one open file description, so every refill one
 * of them makes moves the offset the other one refills from next. glibc
 * refills from the kernel's offset, so the bytes each process gets after
 * its buffer runs out depend on exactly where the other one left that
 * offset: at the end of its refills, after read() on fileno, after an
 * fflush() (glibc seeks back to the logical position), after fclose() or
 * exit(). The same for programs exec'd on the inherited fd (sh, head,
 * cat), started by fork+exec, popen(), system() and posix_spawn(); and a
 * stream opened "re" whose fd an exec'd program must not find. Every
 * child is waited for before the parent goes on, so the order is fixed.
 */
#include "stdio_common.h"

#include <spawn.h>

enum child_end { END_EXIT_, END_EXIT, END_FCLOSE, END_FFLUSH };

static const char *const end_names[] = {
	"_exit", "exit", "fclose + _exit", "fflush + _exit",
};

static void child_reads(FILE *f, enum child_end end)
{
	int fd = fileno(f);

	printf("[child] ");
	s_fgets(f, 100);
	DO(fd, iobuf, read(fd, iobuf, 100), "[child] read(fileno, 100)");
	printf("[child] ");
	s_fread(f, 1, 5000);
	switch (end) {
	case END_EXIT_:
		break;
	case END_EXIT:
		fflush(stdout);
		exit(0);
	case END_FCLOSE:
		printf("[child] ");
		sclose(f);
		break;
	case END_FFLUSH:
		printf("[child] ");
		P(f, fflush(f), "fflush");
		break;
	}
	fflush(stdout);
	_exit(0);
}

static void fork_case(enum child_end end)
{
	char title[80];
	pid_t pid;
	FILE *f;

	snprintf(title, sizeof(title),
		 "fork after fgets; the child reads, then %s", end_names[end]);
	section(title);
	f = sopen("big", "r");
	s_fgets(f, 100);
	s_fgets(f, 100);
	pid = fork_child();
	if (pid == 0)
		child_reads(f, end);
	report_child(pid, "child");
	printf("[parent] kernel offset now:");
	put_kernel(f);
	putchar('\n');
	P(f, ftell(f), "[parent] ftell");
	s_fgets(f, 100);
	s_fread(f, 1, 4000);
	s_fread(f, 1, 5000);
	DO(fileno(f), iobuf, read(fileno(f), iobuf, 100),
	   "[parent] read(fileno, 100)");
	s_getline(f);
	sclose(f);
}

static void fork_child_to_eof(void)
{
	pid_t pid;
	FILE *f;

	section("fork; the child reads the stream to EOF");
	f = sopen("big", "r");
	s_fread(f, 1, 3000);
	pid = fork_child();
	if (pid == 0) {
		printf("[child] ");
		s_getline_all(f);
		fflush(stdout);
		_exit(0);
	}
	report_child(pid, "child");
	s_fread(f, 1, 1000);
	s_fread(f, 1, 1000);
	s_fread(f, 1, 1000);
	clearerr(f);
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	s_fread(f, 1, 100);
	sclose(f);
}

/* Run sh -c cmd in a child that inherits the stream's fd; "%d" in cmd is
 * the fd number, which never reaches stdout. */
static void exec_case(FILE *f, const char *cmd_fmt)
{
	char cmd[256];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), cmd_fmt, fileno(f));
	printf("exec sh -c '%s' (fd N):\n", cmd_fmt);
	pid = fork_child();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	report_child(pid, "exec'd sh");
	printf("kernel offset now:");
	put_kernel(f);
	putchar('\n');
}

static void exec_cases(void)
{
	FILE *f;

	section("exec on the inherited fd after stdio reads");
	f = sopen("big", "r");
	s_fgets(f, 100);
	s_fgets(f, 100);
	exec_case(f, "head -c 10 <&%d; echo");
	s_fread(f, 1, 4100);
	exec_case(f, "head -c 25 <&%d; echo");
	s_getline(f);
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	exec_case(f, "head -c 15 <&%d; echo");
	s_getline(f);
	P(f, fflush(f), "fflush");
	exec_case(f, "head -c 15 <&%d; echo");
	s_getline(f);
	exec_case(f, "cat <&%d | wc -c");
	s_fread(f, 1, 10000);
	s_fread(f, 1, 10000);
	sclose(f);

	section("exec after the stream hit EOF, and after a seek");
	f = sopen("small", "r");
	s_fread(f, 1, 1000);
	exec_case(f, "cat <&%d | wc -c");
	P(f, fseek(f, 20, SEEK_SET), "fseek(20, SEEK_SET)");
	exec_case(f, "head -c 10 <&%d; echo");
	s_fread(f, 1, 1000);
	sclose(f);

	section("a stream opened \"re\": the exec'd program has no such fd");
	f = sopen("big", "re");
	s_fgets(f, 100);
	exec_case(f,
		  "{ head -c 10 <&%d; } 2>/dev/null; echo \" status $?\"");
	s_fgets(f, 100);
	sclose(f);
}

static void popen_system_spawn(void)
{
	char cmd[256];
	FILE *f, *p;
	size_t n;

	section("popen, system and posix_spawn with the fd inherited");
	f = sopen("big", "r");
	s_fgets(f, 100);
	snprintf(cmd, sizeof(cmd), "head -c 20 <&%d", fileno(f));
	p = popen(cmd, "r");
	if (!p)
		die("popen");
	n = fread(iobuf, 1, 100, p);
	printf("popen(head -c 20 <&N) gave %zu bytes sum=%016" PRIx64
	       ", pclose = %d\n", n, sum_bytes(iobuf, n), pclose(p));
	printf("kernel offset now:");
	put_kernel(f);
	putchar('\n');
	s_fread(f, 1, 5000);

	snprintf(cmd, sizeof(cmd), "head -c 30 <&%d >/dev/null", fileno(f));
	printf("system(head -c 30 <&N) = %d\n", system(cmd));
	printf("kernel offset now:");
	put_kernel(f);
	putchar('\n');
	s_fread(f, 1, 5000);

	{
		char *argv[] = { "sh", "-c", cmd, NULL };
		pid_t pid;
		int r;

		snprintf(cmd, sizeof(cmd), "head -c 40 <&%d; echo", fileno(f));
		fflush(stdout);
		r = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
		/* Printed once the child is done: its output comes first. */
		if (r == 0)
			report_child(pid, "spawned sh");
		printf("posix_spawn = %d\n", r);
	}
	printf("kernel offset now:");
	put_kernel(f);
	putchar('\n');
	s_fread(f, 1, 5000);
	sclose(f);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_stdio_files();
	fork_case(END_EXIT_);
	fork_case(END_EXIT);
	fork_case(END_FCLOSE);
	fork_case(END_FFLUSH);
	fork_child_to_eof();
	exec_cases();
	popen_system_spawn();
	return 0;
}
