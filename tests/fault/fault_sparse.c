/*
 * fault_sparse: offsets past 2^32 and 2^40, empty files, tmpfs.
 *
 * A mapping of a huge sparse file is one mmap() of its whole size; served
 * reads then compute addresses and offsets in 64 bits, where a 32-bit
 * slip would read the wrong bytes or report a wrong offset. Holes read as
 * zeros through the page cache. What mmapread does with a 1 TiB file
 * (map it, or refuse it for its size or budget) is its own business; the
 * program must see what it sees natively:
 *  - a 5 GiB sparse file with data across 2^32 (small reads from 2^32-64
 *    on, pread across it, SEEK_DATA/SEEK_HOLE, lseek around it);
 *  - a sparse file of 2^40 + 64 KiB with data at 2^32 and in its last
 *    64 KiB (at 2^40): the same, and reads at and past its end;
 *  - an empty file (fallback "empty": nothing to map) read, and written to
 *    by another fd while open;
 *  - a file on tmpfs (/dev/shm), read in small pieces;
 *  - the 1 TiB file again under RLIMIT_AS = the current size + 256 MiB:
 *    mmapread may not take the address space (fallback "budget"), and the
 *    reads must not notice.
 */
#include "../programs/common.h"

#define KIB 1024ll
#define GIB (1024ll * 1024 * 1024)
#define TWO32 (1ll << 32)
#define TWO40 (1ll << 40)
#define DATA (64 * KIB)

static char buf[8192];

static void put_data(int fd, long long off, size_t len, unsigned int seed)
{
	static unsigned char chunk[DATA];

	fill_pattern(chunk, (uint64_t)off, len, seed);
	if (pwrite(fd, chunk, len, off) != (ssize_t)len)
		die("pwrite at %lld", off);
}

static int make_sparse(const char *name, long long size)
{
	int fd = open(dpath(name), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);

	if (fd < 0 || ftruncate(fd, size) != 0)
		die("create %s", name);
	return fd;
}

/* Small reads from off on, some across boundary. */
static void read_around(int fd, long long off, int n)
{
	DO(fd, NULL, lseek(fd, off, SEEK_SET), "lseek(%lld)", off);
	for (int i = 0; i < n; i++)
		DO(fd, buf, read(fd, buf, 48), "read(48)");
}

static void seek_data_hole(int fd, long long from)
{
	DO(fd, NULL, lseek(fd, from, SEEK_DATA), "lseek(%lld, SEEK_DATA)",
	   from);
	DO(fd, NULL, lseek(fd, from, SEEK_HOLE), "lseek(%lld, SEEK_HOLE)",
	   from);
}

static void huge_file(const char *name, long long size)
{
	int fd;

	fd = make_sparse(name, size);
	put_data(fd, TWO32 - 2 * KIB, 4 * KIB, 1);
	if (size > TWO40)
		put_data(fd, TWO40, DATA, 2);
	close(fd);

	fd = open_ro(name);
	/* The first reads make mmapread map (or refuse) the whole file. */
	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
	read_around(fd, TWO32 - 64, 8);
	DO(fd, buf, pread(fd, buf, 4096, TWO32 - 2048),
	   "pread(4096, 2^32-2048)");
	DO(fd, buf, pread(fd, buf, 100, TWO32 + 4 * KIB), "pread(100, hole)");
	read_around(fd, 3 * GIB, 2);
	seek_data_hole(fd, 0);
	seek_data_hole(fd, TWO32);
	if (size > TWO40) {
		read_around(fd, TWO40 - 24, 6);
		DO(fd, buf, pread(fd, buf, 8192, TWO40 + 100),
		   "pread(8192, 2^40+100)");
		seek_data_hole(fd, TWO32 + 64 * KIB);
		read_around(fd, size - 40, 3);
		DO(fd, buf, pread(fd, buf, 100, size - 50),
		   "pread(100, end-50)");
		DO(fd, buf, pread(fd, buf, 100, size + 50),
		   "pread(100, end+50)");
	}
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	DO(fd, buf, read(fd, buf, 16), "read(16) at EOF");
	DO(fd, NULL, lseek(fd, -100, SEEK_CUR), "lseek(-100, SEEK_CUR)");
	for (int i = 0; i < 3; i++)
		DO(fd, buf, read(fd, buf, 48), "read(48)");
	DO(-1, NULL, close(fd), "close");
}

static void empty_file(void)
{
	int fd, w;

	make_file("empty", 0, 0);
	fd = open_ro("empty");
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
	DO(fd, buf, pread(fd, buf, 16, 0), "pread(16, 0)");
	w = open(dpath("empty"), O_WRONLY | O_APPEND | O_CLOEXEC);
	if (w < 0)
		die("open empty for writing");
	append_pattern(w, 0, 8192, 3);
	close(w);
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16) after the append");
	DO(-1, NULL, close(fd), "close");
}

static void tmpfs_file(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/mmapread-fault-%d",
		 (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		printf("no /dev/shm: %s\n", errname(errno));
		return;
	}
	append_pattern(fd, 0, 100 * KIB, 4);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	if (fd < 0)
		die("open the /dev/shm file");
	for (int i = 0; i < 10; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	DO(fd, buf, pread(fd, buf, 200, 100 * KIB - 100), "pread(end-100)");
	DO(fd, NULL, lseek(fd, -30, SEEK_END), "lseek(-30, SEEK_END)");
	for (int i = 0; i < 2; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	DO(-1, NULL, close(fd), "close");
}

static long long vm_size(void)
{
	long long pages = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lld", &pages) != 1)
		die("read /proc/self/statm");
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

static void under_rlimit_as(void)
{
	struct rlimit lim;
	int fd;

	if (getrlimit(RLIMIT_AS, &lim) != 0)
		die("getrlimit");
	lim.rlim_cur = (rlim_t)(vm_size() + 256 * 1024 * KIB);
	if (setrlimit(RLIMIT_AS, &lim) != 0)
		die("setrlimit(RLIMIT_AS)");
	fd = open_ro("one-tib");
	for (int i = 0; i < 6; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
	read_around(fd, TWO40 - 24, 6);
	DO(fd, buf, pread(fd, buf, 100, TWO32 - 50), "pread(100, 2^32-50)");
	DO(-1, NULL, close(fd), "close");
}

int main(int argc, char **argv)
{
	struct mmapread_stats st;

	setup(argc, argv);
	section("5 GiB, data across 2^32");
	huge_file("five-gib", 5 * GIB);
	section("2^40 + 64 KiB, data across 2^32 and at 2^40");
	huge_file("one-tib", TWO40 + DATA);
	section("an empty file");
	empty_file();
	section("a file on tmpfs");
	tmpfs_file();
	section("2^40 + 64 KiB under RLIMIT_AS = the current size + 256 MiB");
	under_rlimit_as();
	if (get_stats(&st))
		preload_check("1 TiB refused under RLIMIT_AS",
			      st.fallbacks[MMAPREAD_FB_BUDGET] == 1);
	return 0;
}
