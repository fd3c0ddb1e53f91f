/*
 * rlimit_as: mappings count against RLIMIT_AS (ulimit -v).
 *
 * A program that runs under an address-space limit sized for its own
 * needs must not run out of it because mmapread mapped a large file it
 * reads a few bytes of at a time: with the limit set (before anything is
 * read) at the current size plus 256 MiB, a 200 MiB (sparse) file read in
 * 16-byte pieces, then a 150 MiB allocation must succeed, as it does
 * natively. A small file is still mapped.
 */
#include "common.h"

#include <sys/resource.h>

#define MIB (1024 * 1024)
#define BIG_SIZE (200ll * MIB)
#define HEADROOM (256ll * MIB)
#define ALLOC_SIZE (150 * MIB)

static char buf[4096];

static long long vm_size(void)
{
	long long pages = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lld", &pages) != 1)
		die("read /proc/self/statm");
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

static void read_pieces(int fd, int n)
{
	for (int i = 0; i < n; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
}

int main(int argc, char **argv)
{
	struct mmapread_stats st;
	struct rlimit lim;
	unsigned char *block;
	int small, big, w;

	setup(argc, argv);
	make_file("small", 1 * MIB, 61);
	w = open(dpath("big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w < 0 || ftruncate(w, BIG_SIZE) != 0 || close(w) != 0)
		die("create big");

	section("RLIMIT_AS = the current size + 256 MiB");
	if (getrlimit(RLIMIT_AS, &lim) != 0)
		die("getrlimit");
	lim.rlim_cur = (rlim_t)(vm_size() + HEADROOM);
	if (setrlimit(RLIMIT_AS, &lim) != 0)
		die("setrlimit");
	printf("setrlimit(RLIMIT_AS) = 0\n");

	section("a small file");
	small = open_ro("small");
	read_pieces(small, 5);
	get_stats(&st);
	preload_check("rlimit_as: the small file is mapped",
		      st.files_mapped >= 1 && st.reads_served >= 1);

	section("a 200 MiB file, read 16 bytes at a time");
	big = open_ro("big");
	read_pieces(big, 6);
	DO(big, NULL, lseek(big, BIG_SIZE - 100, SEEK_SET),
	   "lseek(size - 100, SEEK_SET)");
	read_pieces(big, 2);
	read_pieces(small, 2);

	section("then the program needs 150 MiB");
	block = malloc(ALLOC_SIZE);
	printf("malloc(150 MiB) %s\n", block ? "succeeded" : "FAILED");
	if (block) {
		block[0] = 1;
		block[ALLOC_SIZE - 1] = 2;
		printf("first and last byte written: %d %d\n", block[0],
		       block[ALLOC_SIZE - 1]);
		free(block);
	}
	read_pieces(big, 2);
	read_pieces(small, 2);
	close(big);
	close(small);
	return 0;
}
