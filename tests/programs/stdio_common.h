/*
 * Shared helpers of the stdio comparison programs (tests/programs/stdio_*).
 *
 * Each stdio call is printed on one line with its result, the errno it
 * left (only when it changed the canary), a checksum of the bytes it gave,
 * and then the state of the stream: where ftello() says it is, feof(),
 * ferror(), and the kernel's offset of its fd, asked with lseek() on
 * fileno(). The kernel's offset is part of the contract: a forked child,
 * an exec'd program or a dup'd fd sees it, so a stream served from a
 * mapping must leave it exactly where glibc's own refills leave it.
 *
 * ftello() does not change a read stream (it only asks the kernel when
 * the stream has no cached offset), so printing it after every call tests
 * without steering what is tested; some sequences still skip it (quiet
 * variants) so that a stream is also seen read straight through.
 */
#ifndef PROGRAMS_STDIO_COMMON_H
#define PROGRAMS_STDIO_COMMON_H

#include "common.h"

#include <locale.h>
#include <wchar.h>

/* The files every stdio program makes: sizes chosen around stdio's
 * 4 KiB buffer and the 1 MiB pattern file the brief asks for. */
#define BIG_SIZE (1024 * 1024)
#define HUGE_SIZE (5 * 1024 * 1024 + 123)
#define SMALL_SIZE 100

static unsigned char iobuf[HUGE_SIZE + 4096];

static void put_errno(int err)
{
	if (err != ERRNO_CANARY)
		printf(" errno=%s", err ? errname(err) : "0");
}

/* " tell=N eof=E err=R off=K" (see the top of this file). */
static void put_stream(FILE *f)
{
	int saved = errno;
	off_t tell;

	if (!f) {
		printf(" (no stream)");
		return;
	}
	errno = 0;
	tell = ftello(f);
	if (tell < 0)
		printf(" tell=%s", errname(errno));
	else
		printf(" tell=%lld", (long long)tell);
	printf(" eof=%d err=%d", feof(f) != 0, ferror(f) != 0);
	put_offset(fileno(f));
	errno = saved;
}

/* The kernel's offset alone, for the quiet sequences. */
static void put_kernel(FILE *f)
{
	if (f)
		put_offset(fileno(f));
}

static void endline(FILE *f, bool quiet)
{
	if (quiet)
		put_kernel(f);
	else
		put_stream(f);
	putchar('\n');
}

/* The data file name, holding iobuf's first size bytes. */
static void write_iobuf(const char *name, size_t size)
{
	int fd = open(dpath(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);

	if (fd < 0)
		die("create %s", name);
	write_all(fd, iobuf, size);
	if (close(fd) != 0)
		die("close %s", name);
}

/*
 * Text with a position-dependent pattern: line i is "L%07u:" then
 * (i * 37) % 151 letters that depend on i; every 50th line holds a NUL
 * byte. The cut at size leaves the last line without its newline.
 */
static void make_text(const char *name, size_t size)
{
	size_t pos = 0;
	unsigned int i = 0;

	while (pos < size) {
		char line[200];
		int len = snprintf(line, sizeof(line), "L%07u:", i);
		int fill = (int)((i * 37u) % 151u);

		for (int k = 0; k < fill; k++)
			line[len++] = (char)('a' + (i + (unsigned)k) % 26);
		if (i % 50 == 49)
			line[len / 2] = '\0';
		line[len++] = '\n';
		for (int k = 0; k < len && pos < size; k++)
			iobuf[pos++] = (unsigned char)line[k];
		i++;
	}
	write_iobuf(name, size);
}

/* big (1 MiB), huge (5 MiB + 123), small (100 bytes), empty. */
static void make_stdio_files(void)
{
	make_text("big", BIG_SIZE);
	make_text("huge", HUGE_SIZE);
	make_text("small", SMALL_SIZE);
	make_text("empty", 0);
}

static FILE *sopen(const char *name, const char *mode)
{
	FILE *f;

	errno = ERRNO_CANARY;
	f = fopen(dpath(name), mode);
	printf("fopen(%s, \"%s\") = %s", name, mode, f ? "FILE" : "NULL");
	put_errno(errno);
	if (f)
		put_stream(f);
	putchar('\n');
	if (!f)
		die("fopen %s", name);
	return f;
}

static void sclose(FILE *f)
{
	int r;

	errno = ERRNO_CANARY;
	r = fclose(f);
	printf("fclose = %d", r);
	put_errno(errno);
	putchar('\n');
}

/* ---- reads, one line each ---------------------------------------------- */

enum getc_kind { K_GETC, K_FGETC, K_GETC_UNLOCKED, K_FGETC_UNLOCKED };

static const char *const getc_names[] = {
	"getc", "fgetc", "getc_unlocked", "fgetc_unlocked",
};

/* n calls of one getc flavour (stops at EOF): count, last, checksum. */
static int s_getc_q(FILE *f, enum getc_kind kind, int n, bool quiet)
{
	uint64_t hash = FNV_INIT;
	int c = 0, got = 0, err;

	errno = ERRNO_CANARY;
	for (int i = 0; i < n; i++) {
		unsigned char b;

		switch (kind) {
		case K_GETC:
			c = getc(f);
			break;
		case K_FGETC:
			c = fgetc(f);
			break;
		case K_GETC_UNLOCKED:
			c = getc_unlocked(f);
			break;
		default:
			c = fgetc_unlocked(f);
			break;
		}
		if (c == EOF)
			break;
		b = (unsigned char)c;
		hash = fnv1a(hash, &b, 1);
		got++;
	}
	err = errno;
	printf("%s x%d: got=%d last=%d", getc_names[kind], n, got, c);
	put_errno(err);
	printf(" sum=%016" PRIx64, hash);
	endline(f, quiet);
	return got;
}

static int s_getc(FILE *f, enum getc_kind kind, int n)
{
	return s_getc_q(f, kind, n, false);
}

/* fgets into a buffer pre-filled with 0xaa: the checksum covers all of it,
 * so bytes after an embedded NUL count too. */
static bool s_fgets_q(FILE *f, int size, bool quiet)
{
	static char line[65536];
	char *r;
	int err;

	memset(line, 0xaa, (size_t)size);
	errno = ERRNO_CANARY;
	r = fgets(line, size, f);
	err = errno;
	if (r)
		printf("fgets(%d) = %zu sum=%016" PRIx64, size, strlen(line),
		       sum_bytes(line, (size_t)size));
	else
		printf("fgets(%d) = NULL", size);
	put_errno(err);
	endline(f, quiet);
	return r != NULL;
}

static bool s_fgets(FILE *f, int size)
{
	return s_fgets_q(f, size, false);
}

static char *gl_line;
static size_t gl_cap;

/* getdelim (getline when delim is '\n'). */
static ssize_t s_getdelim_q(FILE *f, int delim, bool quiet)
{
	ssize_t n;
	int err;

	errno = ERRNO_CANARY;
	n = getdelim(&gl_line, &gl_cap, delim, f);
	err = errno;
	if (delim == '\n')
		printf("getline = %zd", n);
	else
		printf("getdelim(%d) = %zd", delim, n);
	put_errno(err);
	if (n > 0)
		printf(" sum=%016" PRIx64, sum_bytes(gl_line, (size_t)n));
	endline(f, quiet);
	return n;
}

static ssize_t s_getline(FILE *f)
{
	return s_getdelim_q(f, '\n', false);
}

static ssize_t s_getdelim(FILE *f, int delim)
{
	return s_getdelim_q(f, delim, false);
}

static size_t s_fread_q(FILE *f, size_t size, size_t nmemb, bool quiet)
{
	size_t n;
	int err;

	errno = ERRNO_CANARY;
	n = fread(iobuf, size, nmemb, f);
	err = errno;
	printf("fread(%zu, %zu) = %zu", size, nmemb, n);
	put_errno(err);
	if (n > 0)
		printf(" sum=%016" PRIx64, sum_bytes(iobuf, n * size));
	if (n * size >= 8) {
		/* The first 8 bytes show where the stream is at a glance. */
		printf(" [");
		for (int i = 0; i < 8; i++)
			putchar(iobuf[i] >= ' ' && iobuf[i] < 0x7f ?
				iobuf[i] : '.');
		putchar(']');
	}
	endline(f, quiet);
	return n;
}

static size_t s_fread(FILE *f, size_t size, size_t nmemb)
{
	return s_fread_q(f, size, nmemb, false);
}

/* What the stream gives next: 16 bytes (or fewer at EOF). */
static void s_peek16(FILE *f)
{
	printf("  next: ");
	s_fread(f, 1, 16);
}

/*
 * The whole rest of the stream by getline, one line at the end: lines,
 * bytes and a checksum of all of them.
 */
static void s_getline_all(FILE *f)
{
	uint64_t hash = FNV_INIT;
	long long lines = 0, bytes = 0;
	ssize_t n;
	int err;

	errno = ERRNO_CANARY;
	while ((n = getline(&gl_line, &gl_cap, f)) > 0) {
		hash = fnv1a(hash, gl_line, (size_t)n);
		lines++;
		bytes += n;
	}
	err = errno;
	printf("getline to EOF: lines=%lld bytes=%lld last=%zd", lines, bytes,
	       n);
	put_errno(err);
	printf(" sum=%016" PRIx64, hash);
	endline(f, false);
}

/* ---- positioning ------------------------------------------------------- */

/*
 * P(f, call, "label", ...): a positioning call (or any int/off_t-valued
 * call on the stream), its result and errno, then the stream's state.
 */
#define P(f, call, ...)                                                \
	({                                                             \
		long long r_;                                          \
		int e_;                                                \
		errno = ERRNO_CANARY;                                  \
		r_ = (long long)(call);                                \
		e_ = errno;                                            \
		printf(__VA_ARGS__);                                   \
		printf(" = %lld", r_);                                 \
		put_errno(e_);                                         \
		endline((f), false);                                   \
		r_;                                                    \
	})

/* The same, then the 16 bytes that come next. */
#define PN(f, call, ...)                                               \
	({                                                             \
		long long rr_ = P(f, call, __VA_ARGS__);               \
		s_peek16(f);                                           \
		rr_;                                                   \
	})

#endif
