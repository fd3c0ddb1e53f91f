/*
 * stdio_seek: where a read-only stream says it is, and where it leaves the
 * kernel's offset, after every kind of stdio read and every kind of seek.
 *
 * A stream served from a mapping hands out bytes without glibc's refill
 * read(2), so the three positions that native glibc keeps in step can drift
 * apart: the logical position (ftell/ftello/fgetpos), the FILE's cached
 * offset that glibc adds its buffer to, and the kernel's offset of the fd
 * (which glibc leaves at the end of its last refill, a whole buffer ahead
 * of the logical position). Each read kind is checked at a buffer boundary
 * and across one; each seek kind inside the buffer just read (glibc moves
 * its pointers with no syscall), outside it, backward, far forward, to and
 * past EOF, and to a negative position (EINVAL, position unchanged). After
 * each seek the next 16 bytes show that the data is the right one too.
 * Files: 1 MiB, 5 MiB + 123 bytes, 100 bytes and empty, all text with a
 * position-dependent pattern (see stdio_common.h).
 */
#include "stdio_common.h"

static void reads_getc(void)
{
	static const enum getc_kind kinds[] = {
		K_GETC, K_FGETC, K_GETC_UNLOCKED, K_FGETC_UNLOCKED,
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		FILE *f;

		section(getc_names[kinds[k]]);
		f = sopen("big", "r");
		s_getc(f, kinds[k], 1);
		s_getc(f, kinds[k], 4094);
		s_getc(f, kinds[k], 1);
		s_getc(f, kinds[k], 1);
		s_getc(f, kinds[k], 2);
		s_getc(f, kinds[k], 10000);
		/* Quiet: nothing but the reads between the prints. */
		s_getc_q(f, kinds[k], 70000, true);
		s_getc_q(f, kinds[k], 4096, true);
		s_getc(f, kinds[k], 3);
		sclose(f);
	}
}

static void reads_lines(void)
{
	FILE *f;

	section("fgets, several sizes, across buffer boundaries");
	f = sopen("big", "rb");
	s_fgets(f, 1);
	s_fgets(f, 2);
	s_fgets(f, 10);
	s_fgets(f, 200);
	for (int i = 0; i < 60; i++)
		s_fgets_q(f, 200, i % 7 != 0);
	s_fgets(f, 5000);
	s_fgets(f, 3);
	sclose(f);

	section("getline through the whole 1 MiB file");
	f = sopen("big", "r");
	for (int i = 0; i < 40; i++)
		s_getdelim_q(f, '\n', i % 5 != 0);
	s_getline_all(f);
	s_getline(f);
	s_getline(f);
	sclose(f);

	section("getdelim with ':', 'z', NUL and a byte that never comes");
	f = sopen("big", "r");
	s_getdelim(f, ':');
	s_getdelim(f, ':');
	s_getdelim(f, 'z');
	s_getdelim(f, '\0');
	s_getdelim(f, '\0');
	s_getdelim(f, 0xff);
	s_getdelim(f, 0xff);
	sclose(f);

	section("getline on the 100-byte and the empty file");
	f = sopen("small", "r");
	s_getline(f);
	s_getline(f);
	s_getline(f);
	sclose(f);
	f = sopen("empty", "r");
	s_getline(f);
	s_getc(f, K_GETC, 1);
	s_fgets(f, 10);
	sclose(f);
}

static void reads_fread(void)
{
	FILE *f;

	section("fread small, around 4096, larger than the buffer");
	f = sopen("big", "r");
	s_fread(f, 1, 1);
	s_fread(f, 1, 100);
	s_fread(f, 1, 3995);
	s_fread(f, 1, 4097);
	s_fread(f, 1, 4095);
	s_fread(f, 1, 10000);
	s_fread(f, 4096, 3);
	s_fread(f, 7, 1001);
	s_fread(f, 1, 65536);
	s_fread_q(f, 1, 100, true);
	s_fread_q(f, 1, 8192, true);
	s_fread(f, 1, 1);
	sclose(f);

	section("fread larger than the file, partial element at EOF");
	f = sopen("big", "r");
	s_fread(f, 1, 10);
	s_fread(f, 1, BIG_SIZE + 1);
	s_fread(f, 1, 1);
	sclose(f);
	f = sopen("big", "r");
	s_fread(f, 1000, 1049);
	s_fread(f, 1000, 1);
	s_fread(f, 1, 1);
	sclose(f);
	f = sopen("huge", "r");
	s_fread(f, 1, 12345);
	s_fread(f, 1, 2 * 1024 * 1024);
	s_fread(f, 3, 1024 * 1024);
	s_fread(f, 1, 1);
	sclose(f);
	f = sopen("small", "r");
	s_fread(f, 1, 40);
	s_fread(f, 1, 4096);
	s_fread(f, 1, 1);
	sclose(f);
	f = sopen("empty", "r");
	s_fread(f, 1, 10);
	s_fread(f, 1, 0);
	sclose(f);
}

static void reads_fscanf(void)
{
	FILE *f;
	unsigned int num = 0;
	char word[32];
	int n = 0;

	section("fscanf");
	f = sopen("big", "r");
	P(f, fscanf(f, "L%u:%n", &num, &n), "fscanf(\"L%%u:%%n\")");
	printf("  num=%u n=%d\n", num, n);
	P(f, fscanf(f, "%15s", word), "fscanf(\"%%15s\")");
	printf("  word=%s\n", word);
	P(f, fscanf(f, "%u", &num), "fscanf(\"%%u\") on a letter");
	P(f, fscanf(f, "%*[^\n]"), "fscanf(\"%%*[^\\n]\")");
	/* Line by line across the first refill, printed every 10th. */
	for (int i = 0; i < 80; i++) {
		int r;

		errno = ERRNO_CANARY;
		r = fscanf(f, " L%u:%*[^\n]", &num);
		if (r != 1 || errno != ERRNO_CANARY || i % 10 == 9)
			P(f, r, "fscanf(\" L%%u:%%*[^\\n]\") #%d num=%u", i,
			  num);
		/* Line 49 has its NUL among the digits. */
		if (r != 1)
			P(f, fscanf(f, "%*[^\n]"), "fscanf(\"%%*[^\\n]\")");
	}
	P(f, fseeko(f, -20, SEEK_END), "fseeko(-20, SEEK_END)");
	P(f, fscanf(f, "%*[^L]L%u:%31s", &num, word),
	  "fscanf(\"%%*[^L]L%%u:%%31s\")");
	printf("  num=%u word=%s\n", num, word);
	P(f, fscanf(f, "%31s", word), "fscanf(\"%%31s\") at EOF");
	sclose(f);
}

/* Seeks on the 1 MiB file after a first 100-byte read filled the buffer. */
static void seeks_set_cur_end(void)
{
	FILE *f;

	section("fseek inside the buffer, outside it, backward, far forward");
	f = sopen("big", "r");
	s_fread(f, 1, 100);
	PN(f, fseek(f, 50, SEEK_CUR), "fseek(50, SEEK_CUR)");
	PN(f, fseek(f, -30, SEEK_CUR), "fseek(-30, SEEK_CUR)");
	PN(f, fseek(f, 3000, SEEK_SET), "fseek(3000, SEEK_SET)");
	PN(f, fseek(f, 4090, SEEK_SET), "fseek(4090, SEEK_SET)");
	PN(f, fseek(f, 5000, SEEK_SET), "fseek(5000, SEEK_SET)");
	PN(f, fseek(f, 0, SEEK_CUR), "fseek(0, SEEK_CUR)");
	PN(f, fseek(f, 4000, SEEK_CUR), "fseek(4000, SEEK_CUR)");
	PN(f, fseek(f, 500000, SEEK_SET), "fseek(500000, SEEK_SET)");
	PN(f, fseek(f, 100, SEEK_SET), "fseek(100, SEEK_SET)");
	PN(f, fseek(f, -116, SEEK_CUR), "fseek(-116, SEEK_CUR)");
	PN(f, fseek(f, 0, SEEK_END), "fseek(0, SEEK_END)");
	P(f, getc(f), "getc at EOF");
	P(f, getc(f), "getc at EOF again");
	PN(f, fseek(f, -10, SEEK_END), "fseek(-10, SEEK_END)");
	PN(f, fseek(f, -5000, SEEK_END), "fseek(-5000, SEEK_END)");
	PN(f, fseek(f, 10, SEEK_END), "fseek(10, SEEK_END)");
	P(f, getc(f), "getc past EOF");
	PN(f, fseek(f, -20, SEEK_CUR), "fseek(-20, SEEK_CUR) from past EOF");
	sclose(f);

	section("seeks that fail leave the position alone");
	f = sopen("big", "r");
	s_fread(f, 1, 1000);
	PN(f, fseek(f, -1, SEEK_SET), "fseek(-1, SEEK_SET)");
	PN(f, fseek(f, -2000000, SEEK_CUR), "fseek(-2000000, SEEK_CUR)");
	PN(f, fseek(f, -2000000, SEEK_END), "fseek(-2000000, SEEK_END)");
	PN(f, fseek(f, 10, 42), "fseek(10, 42)");
	PN(f, fseeko(f, -1017, SEEK_CUR), "fseeko(-1017, SEEK_CUR)");
	PN(f, fseeko(f, 1LL << 40, SEEK_SET), "fseeko(1 << 40, SEEK_SET)");
	PN(f, fseeko(f, 12, SEEK_SET), "fseeko(12, SEEK_SET)");
	sclose(f);

	section("seeks before the first read, and seek after seek");
	f = sopen("big", "r");
	P(f, fseek(f, 7000, SEEK_SET), "fseek(7000, SEEK_SET) first");
	P(f, fseek(f, 10, SEEK_CUR), "fseek(10, SEEK_CUR)");
	P(f, fseek(f, -5, SEEK_END), "fseek(-5, SEEK_END)");
	P(f, fseek(f, 8192, SEEK_SET), "fseek(8192, SEEK_SET)");
	s_getc(f, K_GETC, 1);
	P(f, fseek(f, 8191, SEEK_SET), "fseek(8191, SEEK_SET)");
	s_getc(f, K_GETC, 2);
	P(f, fseek(f, 12287, SEEK_SET), "fseek(12287, SEEK_SET)");
	P(f, fseek(f, 12289, SEEK_SET), "fseek(12289, SEEK_SET)");
	s_getc(f, K_GETC, 5000);
	sclose(f);

	section("quiet: seeks and reads with no ftell between, kernel only");
	f = sopen("huge", "r");
	s_fread_q(f, 1, 10, true);
	fseek(f, 4000, SEEK_CUR);
	s_fread_q(f, 1, 200, true);
	fseek(f, 3 * 1024 * 1024 + 5, SEEK_SET);
	s_getc_q(f, K_GETC, 9000, true);
	fseek(f, -100, SEEK_END);
	s_fread_q(f, 1, 1000, true);
	fseek(f, 1, SEEK_SET);
	s_fgets_q(f, 100, true);
	fseek(f, -8000, SEEK_CUR);
	s_getdelim_q(f, '\n', true);
	P(f, ftell(f), "ftell at last");
	sclose(f);
}

static void seeks_rewind_pos(void)
{
	fpos_t a, b;
	FILE *f;

	section("rewind, fgetpos/fsetpos, ftell vs ftello");
	f = sopen("big", "r");
	s_getc(f, K_GETC, 5000);
	P(f, fgetpos(f, &a), "fgetpos(a)");
	s_fread(f, 1, 20);
	P(f, ftell(f), "ftell");
	P(f, ftello(f), "ftello");
	errno = ERRNO_CANARY;
	rewind(f);
	printf("rewind");
	put_errno(errno);
	endline(f, false);
	s_peek16(f);
	P(f, fgetpos(f, &b), "fgetpos(b)");
	PN(f, fsetpos(f, &a), "fsetpos(a)");
	s_fread(f, 1, 100000);
	PN(f, fsetpos(f, &b), "fsetpos(b)");
	PN(f, fsetpos(f, &a), "fsetpos(a)");
	P(f, fseek(f, 0, SEEK_END), "fseek(0, SEEK_END)");
	P(f, fgetpos(f, &b), "fgetpos(b) at EOF");
	rewind(f);
	PN(f, fsetpos(f, &b), "fsetpos(b)");
	sclose(f);

	section("the 100-byte and the empty file");
	f = sopen("small", "r");
	PN(f, fseek(f, 50, SEEK_SET), "fseek(50, SEEK_SET)");
	PN(f, fseek(f, 0, SEEK_END), "fseek(0, SEEK_END)");
	PN(f, fseek(f, -100, SEEK_END), "fseek(-100, SEEK_END)");
	PN(f, fseek(f, -101, SEEK_END), "fseek(-101, SEEK_END)");
	PN(f, fseek(f, 99, SEEK_SET), "fseek(99, SEEK_SET)");
	rewind(f);
	s_getline_all(f);
	sclose(f);
	f = sopen("empty", "r");
	PN(f, fseek(f, 0, SEEK_END), "fseek(0, SEEK_END)");
	PN(f, fseek(f, 5, SEEK_SET), "fseek(5, SEEK_SET)");
	PN(f, fseek(f, -1, SEEK_END), "fseek(-1, SEEK_END)");
	sclose(f);
}

/* The "e" flag (O_CLOEXEC) and fopen64 take the same path: one pass each. */
static void other_opens(void)
{
	FILE *f;

	section("fopen \"re\" and fopen64");
	f = sopen("big", "re");
	s_fread(f, 1, 5000);
	PN(f, fseek(f, -4000, SEEK_CUR), "fseek(-4000, SEEK_CUR)");
	sclose(f);
	errno = ERRNO_CANARY;
	f = fopen64(dpath("huge"), "r");
	printf("fopen64(huge, \"r\") = %s", f ? "FILE" : "NULL");
	put_errno(errno);
	putchar('\n');
	if (!f)
		die("fopen64");
	s_fgets(f, 100);
	PN(f, fseeko64(f, 5 * 1024 * 1024, SEEK_SET), "fseeko64(5 MiB)");
	s_getline_all(f);
	sclose(f);

	/*
	 * glibc's own mmap mode: it maps the file itself and moves the
	 * kernel offset its own way (to EOF at the first read); it must
	 * pass through as it is. (Its ungetc + fseek(SEEK_CUR) and a
	 * truncation crash natively, so they are left out.)
	 */
	section("fopen \"rm\" (glibc maps the file itself)");
	f = sopen("big", "rm");
	s_fread(f, 1, 100);
	s_getc(f, K_GETC, 5000);
	PN(f, fseek(f, 70000, SEEK_SET), "fseek(70000, SEEK_SET)");
	PN(f, fseek(f, -10, SEEK_END), "fseek(-10, SEEK_END)");
	P(f, fflush(f), "fflush");
	rewind(f);
	s_getline_all(f);
	sclose(f);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_stdio_files();
	reads_getc();
	reads_lines();
	reads_fread();
	reads_fscanf();
	seeks_set_cur_end();
	seeks_rewind_pos();
	other_opens();
	return 0;
}
