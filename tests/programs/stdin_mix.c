/*
 * stdin_mix: read(0, ...) and then stdio on stdin.
 *
 * A program whose fd 0 is a regular file (close(0) and open(), or dup2(),
 * as a shell redirect does) may read some records with read(0, ...) and
 * then go on with fgets(stdin) or fread(stdin). stdio reads fd 0 inside
 * libc, where no preload sees it, at the kernel's file offset: that offset
 * must be where the read() calls left it. The other order too: fgets()
 * first (stdio buffers a block), then read(0, ...) continues after that
 * block, and stdio still hands out its buffered lines.
 *
 * stdin's FILE is fresh in each case: each runs in a child forked before
 * anything is read or mapped.
 */
#include "common.h"

#define LINES 1000 /* "line 0000\n" ... */

static char buf[4096];

static void show_line(const char *what, const char *line)
{
	size_t len = line ? strcspn(line, "\n") : 0;

	if (!line)
		printf("%s = NULL (%s)\n", what, feof(stdin) ? "EOF" : "error");
	else
		printf("%s = \"%.*s\"%s\n", what, (int)len, line,
		       line[len] == '\n' ? " + newline" : "");
}

static void small_reads(int n)
{
	struct mmapread_stats st;

	for (int i = 0; i < n; i++)
		DO(0, buf, read(0, buf, 10), "read(0, 10)");
	get_stats(&st);
	preload_check("stdin_mix: fd 0 is mapped", st.files_mapped >= 1 &&
						      st.reads_served >= 1);
}

static void stdio_then_read(void)
{
	char line[64];

	show_line("fgets(stdin)", fgets(line, sizeof(line), stdin));
	show_line("fgets(stdin)", fgets(line, sizeof(line), stdin));
	DO(0, buf, read(0, buf, 10), "read(0, 10) after stdio");
	DO(0, buf, read(0, buf, 10), "read(0, 10) after stdio");
	show_line("fgets(stdin)", fgets(line, sizeof(line), stdin));
}

static void reopen_by_close(void)
{
	close(0);
	if (open(dpath("lines"), O_RDONLY) != 0)
		die("open lines as fd 0");
}

static void reopen_by_dup2(void)
{
	int fd = open_ro("lines");

	if (dup2(fd, 0) != 0)
		die("dup2");
	close(fd);
}

static void case_close_open_fgets(void)
{
	reopen_by_close();
	small_reads(10);
	stdio_then_read();
}

static void case_dup2_fgets(void)
{
	reopen_by_dup2();
	small_reads(10);
	stdio_then_read();
}

static void case_dup2_fread(void)
{
	char block[25];
	size_t n;

	reopen_by_dup2();
	small_reads(7);
	n = fread(block, 1, sizeof(block), stdin);
	printf("fread(25) = %zu sum=%016" PRIx64 "\n", n, sum_bytes(block, n));
	printf("getchar() = %d\n", getchar());
	DO(0, buf, read(0, buf, 10), "read(0, 10) after stdio");
}

static void case_fgets_first(void)
{
	char line[64];

	reopen_by_dup2();
	show_line("fgets(stdin)", fgets(line, sizeof(line), stdin));
	for (int i = 0; i < 20; i++)
		DO(0, buf, read(0, buf, 10), "read(0, 10) after stdio");
	show_line("fgets(stdin)", fgets(line, sizeof(line), stdin));
	DO(0, NULL, lseek(0, 0, SEEK_CUR), "lseek(0, 0, SEEK_CUR)");
}

static void in_child(const char *what, void (*fn)(void))
{
	pid_t pid;

	section(what);
	pid = fork_child();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	report_child(pid, "child");
}

int main(int argc, char **argv)
{
	FILE *f;

	setup(argc, argv);
	f = fopen(dpath("lines"), "w");
	if (!f)
		die("create lines");
	for (int i = 0; i < LINES; i++)
		fprintf(f, "line %04d\n", i);
	if (fclose(f) != 0)
		die("write lines");

	in_child("close(0), open() -> 0, 10 x read(0, 10), then fgets(stdin)",
		 case_close_open_fgets);
	in_child("dup2(fd, 0), 10 x read(0, 10), then fgets(stdin)",
		 case_dup2_fgets);
	in_child("dup2(fd, 0), 7 x read(0, 10), then fread(stdin) and getchar()",
		 case_dup2_fread);
	in_child("dup2(fd, 0), fgets(stdin) first, then 20 x read(0, 10)",
		 case_fgets_first);
	section("close(0), open() -> 0, 10 x read(0, 10), then fgets(stdin), "
		"in the parent");
	case_close_open_fgets();
	return 0;
}
