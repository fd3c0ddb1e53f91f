/*
 * fault_budget: more files open and read than mmapread may map at once.
 *
 * mmapread keeps at most 4096 mappings (so that it never takes more than
 * a fraction of vm.max_map_count, which cannot be lowered here for a
 * test). A program that keeps thousands of files open and reads each in
 * small pieces must read the same bytes when the budget is spent: files
 * past it are the kernel's ("budget" fallback), and a close returns its
 * mapping to the budget, so files opened after closes are mapped again.
 *  - 4400 opens of 4 KiB files (16 files, each opened again and again:
 *    every open is a description of its own, and a mapping), all kept
 *    open, each read in 16-byte reads (mapped after three), a pread and
 *    an lseek;
 *  - 300 of the first ones closed, 300 more opened and read;
 *  - every open file read again to its end.
 * Transcript: a checksum of every result, offset and byte per block of
 * files (one line per 100 files keeps it short and still points at the
 * block that differs).
 */
#include "../programs/common.h"

#define FILES 4400
#define REOPENED 300
#define FILE_SIZE 4096
#define BLOCK 100
#define DISTINCT 16 /* files, each opened many times: a mapping each */

static int fds[FILES + REOPENED];
static uint64_t hash = FNV_INIT;

static void note(long long ret, const void *data)
{
	hash = fnv1a(hash, &ret, sizeof(ret));
	if (ret > 0 && data)
		hash = fnv1a(hash, data, (size_t)ret);
}

static void note_errno(long long ret)
{
	int err = ret < 0 ? errno : 0;

	hash = fnv1a(hash, &err, sizeof(err));
}

static void flush_block(const char *what, int first, int last)
{
	printf("%s %d..%d: %016" PRIx64 "\n", what, first, last, hash);
	hash = FNV_INIT;
}

static void read_some(int fd)
{
	char buf[64];
	long long r;

	for (int i = 0; i < 6; i++) {
		r = read(fd, buf, 16);
		note_errno(r);
		note(r, buf);
	}
	r = pread(fd, buf, sizeof(buf), FILE_SIZE - 32);
	note_errno(r);
	note(r, buf);
	r = lseek(fd, 1000, SEEK_CUR);
	note(r, NULL);
	r = read(fd, buf, 16);
	note(r, buf);
}

static void read_rest(int fd)
{
	char buf[512];
	long long r;

	do {
		r = read(fd, buf, sizeof(buf));
		note_errno(r);
		note(r, buf);
	} while (r > 0);
}

static void open_and_read(int first, int last)
{
	char name[32];

	for (int i = first; i < last; i++) {
		snprintf(name, sizeof(name), "f%d", i % DISTINCT);
		fds[i] = open_ro(name);
		read_some(fds[i]);
		if ((i + 1) % BLOCK == 0)
			flush_block("opened and read", i + 1 - BLOCK, i);
	}
}

int main(int argc, char **argv)
{
	struct mmapread_stats st;
	struct rlimit lim = { 8192, 8192 };
	char name[32];

	setup(argc, argv);
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
		die("setrlimit(RLIMIT_NOFILE, 8192)");
	for (int i = 0; i < DISTINCT; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		make_file(name, FILE_SIZE, (unsigned int)i);
	}

	section("4400 files open at once");
	open_and_read(0, FILES);

	section("300 closed, 300 more opened");
	for (int i = 0; i < REOPENED; i++)
		note(close(fds[i]), NULL);
	flush_block("closed", 0, REOPENED - 1);
	open_and_read(FILES, FILES + REOPENED);

	section("every open file to its end");
	for (int i = REOPENED; i < FILES + REOPENED; i++) {
		read_rest(fds[i]);
		if ((i + 1) % BLOCK == 0)
			flush_block("read to the end", i + 1 - BLOCK, i);
	}
	for (int i = REOPENED; i < FILES + REOPENED; i++)
		note(close(fds[i]), NULL);
	flush_block("closed", REOPENED, FILES + REOPENED - 1);

	if (get_stats(&st))
		preload_check("budget spent and returned",
			      st.files_mapped >= 4096 + REOPENED &&
			      st.fallbacks[MMAPREAD_FB_BUDGET] >=
				      FILES - 4096);
	return 0;
}
