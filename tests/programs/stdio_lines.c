/*
 * stdio_lines: getline() and getdelim() on served streams, line by line,
 * with every length around the edges of mmapread's inline reader.
 *
 * The exported getline/getdelim answer the common case themselves: a line
 * of at most 256 bytes whole in the stream's buffer, room for it and its
 * NUL in *lineptr, no lock to take. Everything else goes to the full
 * version. Each call's transcript line holds what a program can see: the
 * result, errno, *n, the bytes up to and including the NUL, and whether the
 * bytes after the NUL are as they were (the buffer's first KiB is filled
 * with a marker before each call; glibc writes the line and its NUL and
 * nothing more).
 *
 * The file's lines take every length from 1 to 40 and those around the
 * inline reader's limits (16, 32, 256) and past the 4 KiB stream buffer,
 * with NUL bytes, '\r' and ':' inside, and no newline at the end, so that
 * lines end at every distance from the buffer's end. Passes:
 * - a growing buffer from NULL, as most programs use getline;
 * - a fresh buffer of a fixed size before each line (*n just above, equal
 *   to and below the line's length + 1: where libc grows it);
 * - getdelim with ':', NUL and a byte the file never holds;
 * - reads of other kinds between lines (getc, ungetc, fread, fgets,
 *   ftell, fseek), which leave the buffer at odd places;
 * - a second thread alive (glibc locks the stream: the full version), and
 *   then the caller's own locking (__fsetlocking BYCALLER: no lock again).
 */
#include "stdio_common.h"

#include <pthread.h>
#include <stdio_ext.h>

#define MARK 0xa5
/* Bytes of *lineptr marked before each call: enough past any line the
 * inline reader takes. */
#define MARKED 1024

/* Line lengths with their newline; a few hold NUL, '\r' or ':'. */
static const size_t lengths[] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
	20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
	37, 38, 39, 40, 47, 48, 49, 63, 64, 65, 100, 127, 128, 129, 200, 240,
	241, 255, 256, 257, 258, 300, 1000, 4095, 4096, 4097, 9000,
};
#define N_LENGTHS (sizeof(lengths) / sizeof(lengths[0]))

static void make_lines(const char *name, size_t total)
{
	size_t pos = 0, i = 0;

	while (pos < total) {
		size_t len = lengths[i % N_LENGTHS];

		for (size_t k = 0; k + 1 < len && pos < total; k++) {
			unsigned char c = (unsigned char)('a' + (i + k) % 26);

			if (i % 11 == 3 && k == len / 2)
				c = '\0';
			else if (i % 13 == 5 && k == len / 3)
				c = '\r';
			else if (k % 37 == 19)
				c = ':';
			iobuf[pos++] = c;
		}
		if (pos < total)
			iobuf[pos++] = '\n';
		i++;
	}
	write_iobuf(name, total);
}

static char *line;
static size_t cap;

/* One getdelim(), and what the program can see of it. */
static ssize_t one_line(FILE *f, int delim, bool quiet)
{
	size_t cap_before = cap, marked = cap < MARKED ? cap : MARKED;
	bool tail_intact = true;
	ssize_t n;
	int err;

	if (line)
		memset(line, MARK, marked);
	errno = ERRNO_CANARY;
	n = getdelim(&line, &cap, delim, f);
	err = errno;
	printf("getdelim(%d) = %zd n=%zu", delim, n, cap);
	put_errno(err);
	if (n >= 0) {
		printf(" sum=%016" PRIx64,
		       sum_bytes(line, (size_t)n + 1));
		if (cap == cap_before) {
			for (size_t k = (size_t)n + 1; k < marked; k++)
				tail_intact &= (unsigned char)line[k] == MARK;
			printf(" tail=%s", tail_intact ? "intact" : "written");
		}
	}
	endline(f, quiet);
	return n;
}

static void to_eof(FILE *f, int delim)
{
	while (one_line(f, delim, true) >= 0)
		;
}

static void growing(void)
{
	FILE *f;

	section("getline from a NULL buffer to EOF");
	free(line);
	line = NULL;
	cap = 0;
	f = sopen("lines", "r");
	to_eof(f, '\n');
	sclose(f);
}

/* Before each line, a fresh buffer of the size given relative to the line
 * about to come (known from the pattern), or absolute. */
static void fixed_sizes(void)
{
	static const long slack[] = { 1, 0, -1, 2 };
	FILE *f;

	for (size_t s = 0; s < sizeof(slack) / sizeof(slack[0]); s++) {
		size_t i = 0;

		section("a fresh buffer of the line's length + 1 + slack");
		printf("slack %ld\n", slack[s]);
		f = sopen("lines", "r");
		for (;;) {
			long want = (long)lengths[i % N_LENGTHS] + 1 +
				    slack[s];

			free(line);
			cap = want > 0 ? (size_t)want : 1;
			line = malloc(cap);
			if (!line)
				die("malloc");
			if (one_line(f, '\n', true) < 0)
				break;
			i++;
		}
		sclose(f);
	}
}

static void delimiters(void)
{
	static const int delims[] = { ':', '\0', '~' };
	FILE *f;

	for (size_t d = 0; d < sizeof(delims) / sizeof(delims[0]); d++) {
		section("getdelim to EOF");
		f = sopen("lines", "r");
		to_eof(f, delims[d]);
		sclose(f);
	}
}

static void mixed(void)
{
	char buf[300];
	FILE *f;

	section("getline between reads of other kinds");
	f = sopen("lines", "r");
	for (int round = 0; round < 120; round++) {
		one_line(f, '\n', false);
		switch (round % 6) {
		case 0:
			s_getc(f, K_GETC, round % 5 + 1);
			break;
		case 1:
			P(f, ungetc('Q', f), "ungetc('Q')");
			break;
		case 2:
			s_fread(f, 1, (size_t)(round * 13 % 97));
			break;
		case 3:
			errno = ERRNO_CANARY;
			printf("fgets = %s", fgets(buf, 40, f) ? "buf" : "NULL");
			put_errno(errno);
			endline(f, false);
			break;
		case 4:
			P(f, fseeko(f, (off_t)round * 511 % 60000, SEEK_SET),
			  "fseeko(SET)");
			break;
		default:
			s_getc(f, K_GETC_UNLOCKED, 17);
			P(f, ungetc('\n', f), "ungetc('\\n')");
			break;
		}
	}
	to_eof(f, '\n');
	sclose(f);
}

static void *idle(void *arg)
{
	return arg;
}

/* Last: glibc marks every stream as needing its lock from the first
 * pthread_create() on, for the rest of the process. */
static void threaded(void)
{
	pthread_t t;
	FILE *f;

	if (pthread_create(&t, NULL, idle, NULL) != 0 ||
	    pthread_join(t, NULL) != 0)
		die("pthread_create");
	section("getline once a thread has existed: the stream locks");
	f = sopen("lines", "r");
	to_eof(f, '\n');
	sclose(f);

	section("the same with the caller's own locking");
	f = sopen("lines", "r");
	printf("__fsetlocking = %d\n", __fsetlocking(f, FSETLOCKING_BYCALLER));
	to_eof(f, '\n');
	sclose(f);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_lines("lines", BIG_SIZE + 333);
	growing();
	fixed_sizes();
	delimiters();
	mixed();
	threaded();
	free(line);
	return 0;
}
