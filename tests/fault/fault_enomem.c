/*
 * fault_enomem: mmap() fails with ENOMEM under mmapread's feet.
 *
 * mmapread calls mmap() through the dynamic linker (for file mappings,
 * and for the anonymous memory of its descriptions and fd table); this
 * program defines mmap() and mmap64() itself and exports them, so the
 * library's calls reach it first (an executable's symbols come before
 * every LD_PRELOAD object, a sanitizer runtime's included); glibc's own
 * internal calls (malloc, stdio) do not. Each refusal must leave the file
 * to the kernel and the program must read what it reads natively:
 *  - file mappings refused (MAP_SHARED of an fd): five files read in small
 *    pieces, fallback "mmap_failed" for each, for good (they stay the
 *    kernel's after mmap() works again, while a new file is mapped);
 *  - anonymous mappings refused: mmapread can neither add descriptions to
 *    its pool nor levels to its fd table; 600 opens (of 16 files) read and a
 *    dup2() onto a far fd (fallback "table_full"); once mmap() works
 *    again, new files are tracked and mapped.
 * The program's own mmap() calls meet the same refusals in both runs, and
 * print them. How many refusals mmapread met goes to stderr (natively it
 * is none).
 */
#include "../programs/common.h"

#include <sys/mman.h>

#define FILE_SIZE (16 * 1024)
#define REFUSED_FILES 5
#define MANY 600
#define FAR_FD 5000
#define DISTINCT 16 /* files behind the MANY opens */

/*
 * A sanitizer runtime's own start calls mmap() before it can run
 * instrumented code (TSan: SIGSEGV in __tsan_func_entry): these functions
 * stay uninstrumented. One thread: plain flags do.
 */
#define RAW __attribute__((no_sanitize("thread", "address", "undefined")))

static volatile bool fail_file, fail_anon;
static volatile long injected;

RAW static void *refusing_mmap(void *addr, size_t len, int prot, int flags,
			   int fd, off_t off)
{
	bool anon = flags & MAP_ANONYMOUS;

	if ((anon && fail_anon) ||
	    (!anon && fd >= 0 && (flags & MAP_SHARED) && fail_file)) {
		injected++;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/*
 * Both names by their symbols: with _FILE_OFFSET_BITS=64 the header's
 * mmap() is a C name for the symbol mmap64.
 */
void *fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
		 off_t off) __asm__("mmap");
void *fault_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		   off_t off) __asm__("mmap64");

RAW void *fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	return refusing_mmap(addr, len, prot, flags, fd, off);
}

RAW void *fault_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	return refusing_mmap(addr, len, prot, flags, fd, off);
}

static char buf[4096];
static int many[MANY];

static void own_mmap(const char *what, int fd)
{
	void *map;

	if (fd >= 0)
		map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	else
		map = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("own mmap(%s) = %s\n", what,
	       map == MAP_FAILED ? errname(errno) : "a mapping");
	if (map != MAP_FAILED)
		munmap(map, 4096);
}

static void small_reads(int fd, int n)
{
	for (int i = 0; i < n; i++)
		DO(fd, buf, read(fd, buf, 64), "fd %d: read(64)", fd);
}

/* Reads of many files, one line per 100 (checksums of results and data). */
static void read_many(int first, int last, int reads)
{
	uint64_t hash = FNV_INIT;

	for (int i = first; i < last; i++) {
		for (int r = 0; r < reads; r++) {
			long long ret = read(many[i], buf, 64);

			hash = fnv1a(hash, &ret, sizeof(ret));
			if (ret > 0)
				hash = fnv1a(hash, buf, (size_t)ret);
		}
		if ((i + 1) % 100 == 0) {
			printf("files %d..%d, %d reads each: %016" PRIx64
			       "\n", i - 99, i, reads, hash);
			hash = FNV_INIT;
		}
	}
}

int main(int argc, char **argv)
{
	struct mmapread_stats st;
	int fds[REFUSED_FILES], fd, far;
	char name[32];

	setup(argc, argv);
	for (int i = 0; i < REFUSED_FILES + 1; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		make_file(name, FILE_SIZE, (unsigned int)i);
	}
	for (int i = 0; i < DISTINCT; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		make_file(name, FILE_SIZE, 100 + (unsigned int)i);
	}

	section("file mappings refused");
	fail_file = true;
	for (int i = 0; i < REFUSED_FILES; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		fds[i] = open_ro(name);
		small_reads(fds[i], 6);
		DO(fds[i], buf, pread(fds[i], buf, 100, FILE_SIZE - 50),
		   "pread(100, end-50)");
	}
	own_mmap("MAP_SHARED of a file", fds[0]);
	fail_file = false;

	section("file mappings allowed again");
	own_mmap("MAP_SHARED of a file", fds[0]);
	for (int i = 0; i < REFUSED_FILES; i++)
		small_reads(fds[i], 2);
	fd = open_ro("r5");
	small_reads(fd, 6);
	DO(fd, NULL, lseek(fd, -10, SEEK_END), "lseek(-10, SEEK_END)");
	small_reads(fd, 2);

	section("anonymous mappings refused");
	fail_anon = true;
	own_mmap("anonymous", -1);
	for (int i = 0; i < MANY / 2; i++) {
		snprintf(name, sizeof(name), "m%d", i % DISTINCT);
		many[i] = open_ro(name);
	}
	read_many(0, MANY / 2, 8);
	far = DO(-1, NULL, dup2(fd, FAR_FD), "dup2(r5, %d)", FAR_FD);
	DO(far, NULL, lseek(far, 100, SEEK_SET), "fd %d: lseek(100)", FAR_FD);
	small_reads(fd, 2);
	small_reads(FAR_FD, 2);
	fail_anon = false;

	section("anonymous mappings allowed again");
	own_mmap("anonymous", -1);
	for (int i = MANY / 2; i < MANY; i++) {
		snprintf(name, sizeof(name), "m%d", i % DISTINCT);
		many[i] = open_ro(name);
	}
	read_many(0, MANY, 8);
	small_reads(FAR_FD, 2);
	DO(-1, NULL, close(FAR_FD), "close(%d)", FAR_FD);
	for (int i = 0; i < MANY; i++)
		close(many[i]);
	for (int i = 0; i < REFUSED_FILES; i++)
		close(fds[i]);
	DO(-1, NULL, close(fd), "close");

	fflush(stdout);
	fprintf(stderr, "fault_enomem: %ld mmap() calls refused\n",
		injected);
	if (get_stats(&st))
		preload_check("each refused file given up once",
			      st.fallbacks[MMAPREAD_FB_MMAP_FAILED] ==
				      REFUSED_FILES);
	return 0;
}
