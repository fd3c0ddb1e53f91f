/*
 * stdio_unget: ungetc, the EOF and error flags, fflush on an input stream,
 * and setvbuf before the first read, on read-only streams.
 *
 * glibc takes back the character just read by moving its read pointer
 * (nothing is written), but a different character, or more than one, goes
 * to a separate backup area that ftell, fseek, fflush and the next reads
 * must all account for. A stream served from a mapping cannot write into
 * the mapping, so each of these paths is checked: same character,
 * different one, a long run of them (glibc grows the backup area without
 * a limit), at offset 0, at EOF, across a refill, then reads of every kind,
 * ftell and fseek after them. fflush() on an input stream moves the kernel
 * offset back to the logical position (glibc's sync), which a mapped stream
 * must reproduce. setvbuf() decides the size of every refill, hence the
 * kernel offset, and a buffer of the program's own must be the one filled.
 */
#include "stdio_common.h"

static void ug(FILE *f, int c)
{
	P(f, ungetc(c, f), "ungetc(%d)", c);
}

static void unget_basic(void)
{
	FILE *f;

	section("ungetc of the char just read, then of a different one");
	f = sopen("big", "r");
	s_getc(f, K_GETC, 5);
	ug(f, '0');
	s_getc(f, K_GETC, 1);
	ug(f, '0');
	ug(f, '0');
	ug(f, 'L');
	s_getc(f, K_GETC, 4);
	ug(f, 'x');
	s_getc(f, K_GETC, 1);
	ug(f, 'y');
	ug(f, 'z');
	s_fread(f, 1, 10);
	ug(f, '\n');
	s_fgets(f, 100);
	ug(f, 'q');
	s_getline(f);
	ug(f, 'r');
	s_getdelim(f, ':');
	ug(f, EOF);
	ug(f, 0x1ff);
	s_getc(f, K_GETC, 1);
	sclose(f);

	section("ungetc at offset 0, before any read");
	f = sopen("big", "r");
	ug(f, 'A');
	s_getc(f, K_GETC, 2);
	sclose(f);
	f = sopen("big", "r");
	ug(f, 'L');
	ug(f, 'B');
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	s_getc(f, K_GETC, 3);
	sclose(f);
	f = sopen("big", "r");
	s_getc(f, K_GETC, 1);
	ug(f, 'M');
	ug(f, 'N');
	s_fread(f, 1, 4);
	sclose(f);
}

/* A long run of different characters: each return, then all read back. */
static void unget_many(void)
{
	char got[400];
	FILE *f;
	int n = 0;

	section("300 ungetc of different chars in a row");
	f = sopen("big", "r");
	s_fread(f, 1, 2000);
	printf("ungetc returns:");
	for (int i = 0; i < 300; i++) {
		int c = 'a' + i % 26;

		errno = ERRNO_CANARY;
		printf(" %d", ungetc(c, f));
		if (errno != ERRNO_CANARY)
			printf("(errno=%s)", errname(errno));
		if (i % 100 == 99) {
			put_stream(f);
			printf("\n ");
		}
	}
	putchar('\n');
	P(f, ftell(f), "ftell");
	while (n < (int)sizeof(got) - 1) {
		int c = getc(f);

		if (c == EOF)
			break;
		got[n++] = (char)c;
		if (n == 150)
			P(f, ftell(f), "ftell after 150 getc");
	}
	printf("read back %d: sum=%016" PRIx64 "\n", n,
	       sum_bytes(got, (size_t)n));
	P(f, ftell(f), "ftell");
	sclose(f);

	section("ungetc run, then fread across it and past the buffer");
	f = sopen("big", "r");
	s_fread(f, 1, 4090);
	for (int i = 0; i < 20; i++)
		ungetc('A' + i, f);
	P(f, ftell(f), "ftell after 20 ungetc");
	s_fread(f, 1, 30);
	s_fread(f, 1, 5000);
	sclose(f);

	section("ungetc run, then fseek, fflush, getline");
	f = sopen("big", "r");
	s_fread(f, 1, 300);
	for (int i = 0; i < 10; i++)
		ungetc('0' + i, f);
	PN(f, fseek(f, 5, SEEK_CUR), "fseek(5, SEEK_CUR) after 10 ungetc");
	for (int i = 0; i < 10; i++)
		ungetc('0' + i, f);
	PN(f, fseek(f, 100, SEEK_SET), "fseek(100, SEEK_SET) after 10 ungetc");
	for (int i = 0; i < 10; i++)
		ungetc('0' + i, f);
	P(f, fflush(f), "fflush after 10 ungetc");
	s_getline(f);
	ug(f, 'Q');
	ug(f, 'R');
	P(f, fflush(f), "fflush after 2 ungetc");
	s_getc(f, K_GETC, 3);
	sclose(f);
}

static void eof_flags(void)
{
	FILE *f;

	section("feof, ferror, clearerr around EOF; ungetc at EOF");
	f = sopen("small", "r");
	s_fread(f, 1, 99);
	s_getc(f, K_GETC, 1);
	s_getc(f, K_GETC, 1);
	s_getc(f, K_GETC, 1);
	errno = ERRNO_CANARY;
	clearerr(f);
	printf("clearerr");
	put_errno(errno);
	endline(f, false);
	s_getc(f, K_GETC, 1);
	ug(f, 'E');
	s_getc(f, K_GETC, 2);
	ug(f, 'F');
	P(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR) after ungetc at EOF");
	s_getc(f, K_GETC, 1);
	PN(f, fseek(f, -1, SEEK_END), "fseek(-1, SEEK_END)");
	s_fgets(f, 10);
	clearerr(f);
	s_fgets(f, 10);
	sclose(f);

	section("a write to a read-only stream sets the error flag");
	f = sopen("small", "r");
	s_getc(f, K_GETC, 3);
	P(f, fputc('x', f), "fputc on \"r\"");
	P(f, fwrite("ab", 1, 2, f), "fwrite on \"r\"");
	s_getc(f, K_GETC, 3);
	clearerr(f);
	s_getc(f, K_GETC, 3);
	sclose(f);
}

static void flush_input(void)
{
	FILE *f;

	section("fflush on an input stream: the kernel offset comes back");
	f = sopen("big", "r");
	P(f, fflush(f), "fflush before any read");
	s_getc(f, K_GETC, 10);
	P(f, fflush(f), "fflush after 10 getc");
	s_getc(f, K_GETC, 10);
	P(f, fflush(f), "fflush again");
	P(f, fflush(f), "fflush twice");
	s_fread(f, 1, 5000);
	P(f, fflush(f), "fflush after fread(5000)");
	s_fread(f, 1, 10000);
	P(f, fflush(NULL), "fflush(NULL)");
	s_getline(f);
	P(f, fseek(f, -3, SEEK_END), "fseek(-3, SEEK_END)");
	s_fread(f, 1, 10);
	P(f, fflush(f), "fflush at EOF");
	s_getc(f, K_GETC, 1);
	sclose(f);

	section("fflush, then read() on the fd continues at the position");
	f = sopen("big", "r");
	s_fgets(f, 50);
	s_fgets(f, 50);
	P(f, fflush(f), "fflush");
	DO(fileno(f), iobuf, read(fileno(f), iobuf, 20), "read(fileno, 20)");
	s_fgets(f, 50);
	sclose(f);
}

static void vbuf_case(const char *what, int mode, size_t size, bool own)
{
	static char own_buf[65536];
	FILE *f;

	section(what);
	f = sopen("big", "r");
	memset(own_buf, 0, sizeof(own_buf));
	P(f, setvbuf(f, own ? own_buf : NULL, mode, size),
	  "setvbuf(%s, %s, %zu)", own ? "own" : "NULL",
	  mode == _IOFBF ? "_IOFBF" : mode == _IOLBF ? "_IOLBF" : "_IONBF",
	  size);
	s_getc(f, K_GETC, 1);
	s_getc(f, K_GETC, 150);
	s_fgets(f, 80);
	s_getline(f);
	s_fread(f, 1, 300);
	s_fread(f, 1, 70000);
	ug(f, 'u');
	ug(f, 'v');
	s_getc(f, K_GETC_UNLOCKED, 3);
	PN(f, fseek(f, -50, SEEK_CUR), "fseek(-50, SEEK_CUR)");
	PN(f, fseek(f, 200000, SEEK_SET), "fseek(200000, SEEK_SET)");
	P(f, fflush(f), "fflush");
	s_getdelim(f, ':');
	if (own)
		printf("own buffer used: sum=%016" PRIx64 "\n",
		       sum_bytes(own_buf, size));
	sclose(f);
}

static void vbuf(void)
{
	static const size_t sizes[] = { 1, 100, 65536 };

	for (size_t i = 0; i < 3; i++) {
		char what[80];

		snprintf(what, sizeof(what), "setvbuf NULL _IOFBF %zu",
			 sizes[i]);
		vbuf_case(what, _IOFBF, sizes[i], false);
		snprintf(what, sizeof(what), "setvbuf own _IOFBF %zu",
			 sizes[i]);
		vbuf_case(what, _IOFBF, sizes[i], true);
		snprintf(what, sizeof(what), "setvbuf own _IOLBF %zu",
			 sizes[i]);
		vbuf_case(what, _IOLBF, sizes[i], true);
	}
	vbuf_case("setvbuf NULL _IOLBF 0", _IOLBF, 0, false);
	vbuf_case("setvbuf NULL _IONBF 0", _IONBF, 0, false);
	vbuf_case("setvbuf own _IONBF 100", _IONBF, 100, true);

	section("setbuf(NULL) and setbuffer before the first read");
	{
		/* 200 bytes are used; ASan's setbuffer checks BUFSIZ. */
		static char b[BUFSIZ];
		FILE *f = sopen("big", "r");

		setbuf(f, NULL);
		s_fread(f, 1, 10);
		s_getc(f, K_GETC, 10);
		sclose(f);
		f = sopen("big", "r");
		setbuffer(f, b, 200);
		s_fread(f, 1, 10);
		s_getc(f, K_GETC, 300);
		printf("setbuffer's buffer: sum=%016" PRIx64 "\n",
		       sum_bytes(b, 200));
		sclose(f);
	}
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_stdio_files();
	unget_basic();
	unget_many();
	eof_flags();
	flush_input();
	vbuf();
	return 0;
}
