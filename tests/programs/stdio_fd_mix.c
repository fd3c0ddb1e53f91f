/*
 * stdio_fd_mix: a read-only stream and plain calls on its fd, together.
 *
 * Programs mix the two: they read a header with fgets() and the body with
 * read() on fileno(), seek the fd under the stream, pread() it, dup() it,
 * or fdopen() an fd they have read from first. glibc keeps no private
 * copy of the kernel's offset until a seek (it asks lseek() in ftell), so
 * each of these shows the kernel's offset through the stream too; a stream
 * served from a mapping must refill, report and leave that offset exactly
 * as glibc's read(2) refills do. Also: freopen onto another file and onto
 * the same one, fclose and the dup'd fd's offset afterwards, mixed fread +
 * getc_unlocked loops, and streams that must pass through untouched: "r+",
 * "a+" and "w+" files, a wide-character stream, fmemopen, open_memstream
 * and popen.
 */
#include "stdio_common.h"

static void rd(int fd, size_t n)
{
	DO(fd, iobuf, read(fd, iobuf, n), "  read(fileno, %zu)", n);
}

static void fd_after_stdio(void)
{
	FILE *f;
	int fd;

	section("read() on fileno between fgets calls");
	f = sopen("big", "r");
	fd = fileno(f);
	s_fgets(f, 100);
	s_fgets(f, 100);
	for (int i = 0; i < 5; i++)
		rd(fd, 100);
	s_fgets(f, 100);
	s_fread(f, 1, 4000);
	s_fgets(f, 100);
	rd(fd, 5000);
	s_getc(f, K_GETC, 9000);
	sclose(f);

	section("lseek() on fileno under the stream");
	f = sopen("big", "r");
	fd = fileno(f);
	s_fread(f, 1, 10);
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "  lseek(fileno, 0, SEEK_SET)");
	s_fread(f, 1, 10);
	s_fread(f, 1, 5000);
	DO(fd, NULL, lseek(fd, 100000, SEEK_SET),
	   "  lseek(fileno, 100000, SEEK_SET)");
	s_fread(f, 1, 10);
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	s_fread(f, 1, 10);
	DO(fd, NULL, lseek(fd, 50, SEEK_CUR), "  lseek(fileno, 50, SEEK_CUR)");
	s_fread(f, 1, 5000);
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "  lseek(fileno, 0, SEEK_END)");
	s_fread(f, 1, 5000);
	s_fread(f, 1, 5000);
	sclose(f);

	section("pread() on fileno leaves both positions alone");
	f = sopen("big", "r");
	fd = fileno(f);
	s_getc(f, K_GETC, 100);
	for (int i = 0; i < 5; i++)
		DO(fd, iobuf, pread(fd, iobuf, 300, 1000 * i),
		   "  pread(fileno, 300, %d)", 1000 * i);
	s_getc(f, K_GETC, 5000);
	DO(fd, iobuf, pread(fd, iobuf, 300, BIG_SIZE - 100),
	   "  pread(fileno, 300, size - 100)");
	s_getc(f, K_GETC, 5000);
	sclose(f);

	section("dup() of fileno, read from the dup");
	f = sopen("big", "r");
	fd = fileno(f);
	s_getline(f);
	{
		int d = dup(fd);

		for (int i = 0; i < 4; i++)
			DO(d, iobuf, read(d, iobuf, 64), "  read(dup, 64)");
		s_getline(f);
		s_fread(f, 1, 8000);
		DO(d, NULL, lseek(d, 3, SEEK_SET), "  lseek(dup, 3, SEEK_SET)");
		s_fread(f, 1, 8000);
		close(d);
	}
	sclose(f);
}

static void fdopen_cases(void)
{
	FILE *f;
	int fd, d;

	section("fdopen on an fd read() to offset 100");
	fd = open_ro("big");
	for (int i = 0; i < 4; i++)
		rd(fd, 25);
	errno = ERRNO_CANARY;
	f = fdopen(fd, "r");
	printf("fdopen(fd, \"r\") = %s", f ? "FILE" : "NULL");
	put_errno(errno);
	putchar('\n');
	if (!f)
		die("fdopen");
	put_stream(f);
	putchar('\n');
	s_fgets(f, 100);
	s_fread(f, 1, 4000);
	s_fgets(f, 100);
	rd(fd, 10);
	s_getc(f, K_GETC, 5000);
	sclose(f);
	DO(-1, NULL, fcntl(fd, F_GETFD), "fcntl(fd, F_GETFD) after fclose");

	section("fdopen on a dup, the original read() on");
	fd = open_ro("big");
	rd(fd, 1000);
	d = dup(fd);
	f = fdopen(d, "rb");
	if (!f)
		die("fdopen dup");
	s_getline(f);
	rd(fd, 200);
	s_getline(f);
	P(f, fseek(f, 2, SEEK_CUR), "fseek(2, SEEK_CUR)");
	rd(fd, 200);
	s_getline(f);
	sclose(f);
	rd(fd, 200);
	close(fd);

	section("fdopen at EOF and past it");
	fd = open_ro("small");
	for (int i = 0; i < 4; i++)
		rd(fd, 30);
	f = fdopen(fd, "r");
	if (!f)
		die("fdopen small");
	s_getc(f, K_GETC, 2);
	DO(fd, NULL, lseek(fd, 10, SEEK_SET), "  lseek(fileno, 10, SEEK_SET)");
	s_getc(f, K_GETC, 2);
	clearerr(f);
	s_getc(f, K_GETC, 2);
	sclose(f);
}

static void freopen_cases(void)
{
	FILE *f, *g;
	int d;

	section("freopen onto another file, then onto the same one");
	f = sopen("big", "r");
	s_fread(f, 1, 5000);
	errno = ERRNO_CANARY;
	g = freopen(dpath("huge"), "r", f);
	printf("freopen(huge) = %s",
	       g == f ? "same FILE" : g ? "other" : "NULL");
	put_errno(errno);
	putchar('\n');
	if (!g)
		die("freopen");
	put_stream(f);
	putchar('\n');
	s_fread(f, 1, 5000);
	s_getline(f);
	d = dup(fileno(f));
	g = freopen(dpath("huge"), "r", f);
	printf("freopen(huge) again = %s\n", g == f ? "same FILE" : "NULL");
	if (!g)
		die("freopen");
	put_stream(f);
	putchar('\n');
	s_fread(f, 1, 100);
	DO(d, NULL, lseek(d, 0, SEEK_CUR), "  lseek(old dup, 0, SEEK_CUR)");
	close(d);
	errno = ERRNO_CANARY;
	g = freopen(NULL, "r", f);
	printf("freopen(NULL, \"r\") = %s", g == f ? "same FILE" : "NULL");
	put_errno(errno);
	putchar('\n');
	if (!g)
		die("freopen NULL");
	put_stream(f);
	putchar('\n');
	s_fread(f, 1, 100);
	P(f, fseek(f, -10, SEEK_END), "fseek(-10, SEEK_END)");
	s_fread(f, 1, 100);
	g = freopen(dpath("small"), "r", f);
	if (!g)
		die("freopen small");
	s_getline_all(f);
	sclose(f);

	section("freopen of stdin onto the file");
	{
		int saved = dup(0);

		g = freopen(dpath("big"), "r", stdin);
		if (!g)
			die("freopen stdin");
		s_fgets(stdin, 50);
		rd(0, 10);
		s_fgets(stdin, 50);
		s_fread(stdin, 1, 6000);
		if (dup2(saved, 0) != 0)
			die("dup2 stdin back");
		close(saved);
	}
}

static void fclose_cases(void)
{
	FILE *f;
	int d;

	section("fclose, then the dup's offset");
	f = sopen("big", "r");
	d = dup(fileno(f));
	s_getc(f, K_GETC, 10);
	sclose(f);
	DO(d, NULL, lseek(d, 0, SEEK_CUR), "  lseek(dup, 0, SEEK_CUR)");
	rd(d, 20);
	close(d);

	f = sopen("big", "r");
	d = dup(fileno(f));
	s_fread(f, 1, 5000);
	ungetc('Z', f);
	sclose(f);
	DO(d, NULL, lseek(d, 0, SEEK_CUR), "  lseek(dup, 0, SEEK_CUR)");
	close(d);

	f = sopen("big", "r");
	d = dup(fileno(f));
	P(f, fseek(f, 70000, SEEK_SET), "fseek(70000, SEEK_SET)");
	s_fread(f, 1, 3);
	sclose(f);
	DO(d, NULL, lseek(d, 0, SEEK_CUR), "  lseek(dup, 0, SEEK_CUR)");
	rd(d, 20);
	close(d);

	f = sopen("small", "r");
	d = dup(fileno(f));
	s_fread(f, 1, 1000);
	sclose(f);
	DO(d, NULL, lseek(d, 0, SEEK_CUR), "  lseek(dup, 0, SEEK_CUR)");
	close(d);
}

/* fread and getc_unlocked taking turns in irregular steps to EOF. */
static void mixed_loop(const char *name)
{
	uint64_t hash = FNV_INIT;
	long long total = 0;
	unsigned int step = 1;
	FILE *f;

	section("fread + getc_unlocked loop");
	f = sopen(name, "r");
	for (;;) {
		size_t want = (step * 977u) % 9000u, n;
		int c = 0;

		n = fread(iobuf, 1, want, f);
		hash = fnv1a(hash, iobuf, n);
		total += (long long)n;
		for (unsigned int i = 0; i < step % 300u; i++) {
			unsigned char b;

			c = getc_unlocked(f);
			if (c == EOF)
				break;
			b = (unsigned char)c;
			hash = fnv1a(hash, &b, 1);
			total++;
		}
		if (step % 97u == 0)
			ungetc('#', f);
		if (step % 40u == 0) {
			printf("step %u: total=%lld sum=%016" PRIx64, step,
			       total, hash);
			endline(f, false);
		}
		if (feof(f) || (n < want && c == EOF))
			break;
		step++;
	}
	printf("end step %u: total=%lld sum=%016" PRIx64, step, total, hash);
	endline(f, false);
	sclose(f);
}

/* Streams that can write: their reads, writes and offsets as they are. */
static void writable_streams(void)
{
	FILE *f;
	int fd;

	section("\"r+\": read, write, read");
	make_text("rw", 20000);
	f = sopen("rw", "r+");
	s_fgets(f, 100);
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	P(f, fputs("WRITTEN", f), "fputs");
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	s_fgets(f, 100);
	s_fread(f, 1, 6000);
	P(f, fseek(f, 8000, SEEK_SET), "fseek(8000, SEEK_SET)");
	P(f, fputs("MORE", f), "fputs");
	P(f, fflush(f), "fflush");
	rewind(f);
	s_fread(f, 1, 20000);
	sclose(f);

	section("\"a+\": reads from the start, writes at the end");
	f = sopen("rw", "a+");
	s_fgets(f, 100);
	P(f, fputs("APPENDED\n", f), "fputs");
	s_fgets(f, 100);
	P(f, fseek(f, -9, SEEK_END), "fseek(-9, SEEK_END)");
	s_fgets(f, 100);
	rewind(f);
	s_getline_all(f);
	sclose(f);

	section("\"w+\": truncated, written, read back");
	f = sopen("rw", "w+");
	for (int i = 0; i < 500; i++)
		fprintf(f, "row %d\n", i);
	P(f, ftell(f), "ftell after writes");
	rewind(f);
	s_fgets(f, 100);
	s_fread(f, 1, 3000);
	sclose(f);
	fd = open_ro("rw");
	DO(fd, iobuf, read(fd, iobuf, 65536), "  read(whole file)");
	close(fd);
}

static void wide_stream(void)
{
	static const char utf8[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n";
	wchar_t ws[64];
	wint_t wc;
	FILE *f;
	int fd;

	section("wide-char stream (C.UTF-8)");
	printf("setlocale(C.UTF-8) = %s\n",
	       setlocale(LC_ALL, "C.UTF-8") ? "ok" : "NULL");
	fd = open(dpath("utf8"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		die("create utf8");
	for (int i = 0; i < 2000; i++)
		write_all(fd, utf8, sizeof(utf8) - 1);
	close(fd);

	f = sopen("utf8", "r");
	P(f, fwide(f, 1), "fwide(1)");
	for (int i = 0; i < 5; i++) {
		wc = fgetwc(f);
		printf("fgetwc = %u", (unsigned int)wc);
		endline(f, false);
	}
	P(f, ungetwc(L'Z', f), "ungetwc(Z)");
	wc = fgetwc(f);
	printf("fgetwc = %u", (unsigned int)wc);
	endline(f, false);
	if (fgetws(ws, 64, f))
		printf("fgetws = %zu chars", wcslen(ws));
	else
		printf("fgetws = NULL");
	endline(f, false);
	P(f, fseek(f, 11 * 1000 + 1, SEEK_SET), "fseek(11001, SEEK_SET)");
	wc = fgetwc(f);
	printf("fgetwc = %u", (unsigned int)wc);
	endline(f, false);
	{
		unsigned long long n = 0, sum = 0;

		while ((wc = fgetwc(f)) != WEOF) {
			n++;
			sum = sum * 31 + wc;
		}
		printf("fgetwc to EOF: %llu chars, sum=%llx", n, sum);
		endline(f, false);
	}
	sclose(f);

	f = sopen("big", "r");
	P(f, fwide(f, 0), "fwide(0) before a read");
	s_getc(f, K_GETC, 3);
	P(f, fwide(f, 1), "fwide(1) after a byte read");
	sclose(f);
	setlocale(LC_ALL, "C");
}

static void other_streams(void)
{
	static char mem[] = "first line\nsecond line\nthird";
	char *ms = NULL;
	size_t ms_len = 0;
	FILE *f;
	char cmd[4200];

	section("fmemopen");
	f = fmemopen(mem, sizeof(mem) - 1, "r");
	if (!f)
		die("fmemopen");
	s_getline(f);
	P(f, ungetc('X', f), "ungetc(X)");
	s_getline(f);
	P(f, fseek(f, -3, SEEK_END), "fseek(-3, SEEK_END)");
	s_getline(f);
	s_getline(f);
	sclose(f);

	section("open_memstream");
	f = open_memstream(&ms, &ms_len);
	if (!f)
		die("open_memstream");
	fputs("hello memstream", f);
	P(f, fflush(f), "fflush");
	printf("len=%zu text=%s\n", ms_len, ms);
	P(f, fseek(f, 6, SEEK_SET), "fseek(6, SEEK_SET)");
	fputs("MEM", f);
	sclose(f);
	printf("len=%zu text=%s\n", ms_len, ms);
	free(ms);

	section("popen(cat FILE)");
	snprintf(cmd, sizeof(cmd), "cat '%s'", dpath("big"));
	errno = ERRNO_CANARY;
	f = popen(cmd, "r");
	printf("popen = %s\n", f ? "FILE" : "NULL");
	if (!f)
		die("popen");
	s_fgets_q(f, 100, true);
	s_fread_q(f, 1, 100000, true);
	s_getline_all(f);
	errno = ERRNO_CANARY;
	printf("pclose = %d\n", pclose(f));
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_stdio_files();
	fd_after_stdio();
	fdopen_cases();
	freopen_cases();
	fclose_cases();
	mixed_loop("big");
	mixed_loop("huge");
	writable_streams();
	wide_stream();
	other_streams();
	return 0;
}
