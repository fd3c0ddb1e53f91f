/*
 * stdio_change: a file that changes under a read-only stream.
 *
 * glibc's buffer is a copy taken at refill time: after the file is
 * overwritten, truncated or replaced, the stream still hands out the old
 * bytes up to the end of that buffer, and only the next refill (at the
 * kernel's offset) sees the change. A stream whose read pointers point into
 * a MAP_SHARED mapping sees a change at once, reads zeros past a new end
 * inside the last page, and faults (SIGBUS) on a page wholly past it; the
 * getc() macro reads that memory in the program's own code. So each case
 * changes the file while the stream has buffered bytes left, then reads
 * on: the transcript must be native's, and no signal may end the program.
 * Growth: a stream that hit EOF sees appended bytes after clearerr()
 * (sticky EOF before it), and a stream inside its last, short buffer reads
 * on into bytes appended since. Truncations are made by another process
 * (as a log rotation would), which no preload in this one can see.
 */
#include "stdio_common.h"

#define SEED_NEW 9

static void append_to(const char *name, size_t len, unsigned int seed)
{
	int fd = open(dpath(name), O_WRONLY | O_APPEND | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0)
		die("open %s for append", name);
	append_pattern(fd, (uint64_t)st.st_size, len, seed);
	close(fd);
	printf("[writer] appended %zu bytes to %s\n", len, name);
}

static void overwrite(const char *name, long long at, size_t len)
{
	static unsigned char chunk[65536];
	int fd = open(dpath(name), O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		die("open %s for writing", name);
	memset(chunk, '#', len);
	if (pwrite(fd, chunk, len, (off_t)at) != (ssize_t)len)
		die("pwrite %s", name);
	close(fd);
	printf("[writer] overwrote %zu bytes of %s at %lld\n", len, name, at);
}

static void growth(void)
{
	FILE *f;

	section("append after EOF: sticky EOF, then clearerr");
	make_text("grow", 10000);
	f = sopen("grow", "r");
	s_fread(f, 1, 20000);
	s_getc(f, K_GETC, 1);
	append_to("grow", 5000, SEED_NEW);
	s_getc(f, K_GETC, 1);
	s_fread(f, 1, 100);
	errno = ERRNO_CANARY;
	clearerr(f);
	printf("clearerr");
	endline(f, false);
	s_getc(f, K_GETC, 1);
	s_fread(f, 1, 10000);
	append_to("grow", 3, SEED_NEW);
	clearerr(f);
	s_getline(f);
	s_getline(f);
	sclose(f);

	section("append while inside the last, short buffer");
	make_text("grow", 5000);
	f = sopen("grow", "r");
	P(f, fseek(f, 4500, SEEK_SET), "fseek(4500, SEEK_SET)");
	s_getc(f, K_GETC, 10);
	append_to("grow", 3000, SEED_NEW);
	s_getc(f, K_GETC, 490);
	s_getc(f, K_GETC, 1);
	s_fread(f, 1, 5000);
	append_to("grow", 70000, SEED_NEW);
	clearerr(f);
	P(f, fseek(f, 0, SEEK_END), "fseek(0, SEEK_END)");
	P(f, fseek(f, -100000, SEEK_END), "fseek(-100000, SEEK_END)");
	P(f, fseek(f, -70000, SEEK_END), "fseek(-70000, SEEK_END)");
	s_fread(f, 1, 100000);
	sclose(f);

	section("append while in the middle, read through");
	make_text("grow", 10000);
	f = sopen("grow", "r");
	s_fgets(f, 100);
	append_to("grow", 9000, SEED_NEW);
	s_fread_q(f, 1, 18990, false);
	s_getc(f, K_GETC, 1);
	sclose(f);

	section("extended by ftruncate (zeros) under the stream");
	make_text("grow", 6000);
	f = sopen("grow", "r");
	s_fread(f, 1, 5990);
	{
		int fd = open(dpath("grow"), O_WRONLY | O_CLOEXEC);

		if (fd < 0 || ftruncate(fd, 20000) != 0)
			die("ftruncate grow");
		close(fd);
		printf("[writer] ftruncate(grow, 20000)\n");
	}
	s_fread(f, 1, 100);
	s_fread(f, 1, 20000);
	sclose(f);
}

static void overwrites(void)
{
	FILE *f;

	section("overwritten inside and past the stream's buffer");
	make_text("ow", BIG_SIZE);
	f = sopen("ow", "r");
	s_fread(f, 1, 1000);
	overwrite("ow", 1500, 100);
	overwrite("ow", 5000, 100);
	overwrite("ow", 500000, 100);
	s_fread(f, 1, 600);
	s_fread(f, 1, 100);
	s_fread(f, 1, 4000);
	P(f, fseek(f, 1500, SEEK_SET), "fseek(1500, SEEK_SET)");
	s_fread(f, 1, 10);
	P(f, fseek(f, 499990, SEEK_SET), "fseek(499990, SEEK_SET)");
	overwrite("ow", 500100, 50);
	s_fread(f, 1, 200);
	overwrite("ow", 502000, 50);
	s_getc(f, K_GETC, 2200);
	P(f, fflush(f), "fflush");
	s_fread(f, 1, 10);
	P(f, fseek(f, 502000, SEEK_SET), "fseek(502000, SEEK_SET)");
	s_fread(f, 1, 60);
	sclose(f);
}

static void truncations(void)
{
	FILE *f;

	section("truncated below the position, inside the buffered block");
	make_text("tr", BIG_SIZE);
	f = sopen("tr", "r");
	s_fread(f, 1, 1000);
	truncate_by_other_process("tr", 2000);
	s_fread(f, 1, 500);
	s_fread(f, 1, 1000);
	s_getc(f, K_GETC, 3000);
	s_getc(f, K_GETC, 1);
	clearerr(f);
	rewind(f);
	s_getline_all(f);
	sclose(f);

	section("truncated to 0 mid-stream, then regrown with other bytes");
	make_text("tr", BIG_SIZE);
	f = sopen("tr", "r");
	P(f, fseek(f, 100000, SEEK_SET), "fseek(100000, SEEK_SET)");
	s_fread(f, 1, 10);
	truncate_by_other_process("tr", 0);
	s_getc(f, K_GETC, 5000);
	s_getc(f, K_GETC, 1);
	append_to("tr", 200000, SEED_NEW);
	s_getc(f, K_GETC, 1);
	clearerr(f);
	s_fread(f, 1, 100);
	s_fread(f, 1, 200000);
	P(f, fseek(f, 150000, SEEK_SET), "fseek(150000, SEEK_SET)");
	s_fread(f, 1, 100);
	sclose(f);

	section("truncated several times while getc walks the file");
	make_text("tr", BIG_SIZE);
	f = sopen("tr", "r");
	s_getc_q(f, K_GETC, 300000, false);
	truncate_by_other_process("tr", 301000);
	s_getc_q(f, K_GETC, 5000, false);
	truncate_by_other_process("tr", 250000);
	s_getc_q(f, K_GETC, 5000, false);
	P(f, fseek(f, 249000, SEEK_SET), "fseek(249000, SEEK_SET)");
	truncate_by_other_process("tr", 249500);
	s_getc_q(f, K_GETC, 5000, false);
	P(f, fseek(f, 200000, SEEK_SET), "fseek(200000, SEEK_SET)");
	s_fgets(f, 200);
	truncate_by_other_process("tr", 100);
	s_getline(f);
	s_getline(f);
	s_fread(f, 1, 5000);
	s_fread(f, 1, 5000);
	sclose(f);

	section("truncated on a page boundary while fread is buffered");
	make_text("tr", BIG_SIZE);
	f = sopen("tr", "r");
	s_fread(f, 1, 8190);
	truncate_by_other_process("tr", 8192);
	s_fread(f, 1, 100);
	truncate_by_other_process("tr", 4096);
	P(f, fseek(f, 4000, SEEK_SET), "fseek(4000, SEEK_SET)");
	s_fread(f, 1, 200);
	sclose(f);
}

static void replaced(void)
{
	FILE *f, *g;

	section("replaced by rename while open");
	make_text("rep", BIG_SIZE);
	f = sopen("rep", "r");
	s_fread(f, 1, 100000);
	{
		int fd = open(dpath("rep.new"),
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0)
			die("create rep.new");
		append_pattern(fd, 0, 50000, SEED_NEW);
		close(fd);
		if (rename(dpath("rep.new"), dpath("rep")) != 0)
			die("rename");
		printf("[writer] rename(rep.new, rep)\n");
	}
	s_fread(f, 1, 100000);
	g = sopen("rep", "r");
	s_fread(g, 1, 100000);
	sclose(g);
	s_getline_all(f);
	P(f, fseek(f, -10, SEEK_END), "old stream: fseek(-10, SEEK_END)");
	s_fread(f, 1, 100);
	sclose(f);

	section("unlinked while open");
	make_text("gone", 300000);
	f = sopen("gone", "r");
	s_fgets(f, 100);
	if (unlink(dpath("gone")) != 0)
		die("unlink");
	printf("[writer] unlink(gone)\n");
	s_getline_all(f);
	rewind(f);
	s_fread(f, 1, 10);
	sclose(f);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	/* Before any file is open or mapped (see common.h). */
	helper_start();
	make_stdio_files();
	growth();
	overwrites();
	truncations();
	replaced();
	return 0;
}
