/*
 * growth: a file that grows under the mapping never shows a false EOF.
 *
 * The file is mapped by small reads, then appended to through a separate
 * O_WRONLY|O_APPEND description, overwritten in place through a third
 * (MAP_SHARED must show it), and extended by ftruncate. Reads, preads and
 * readvs that start inside, straddle or lie past the old end must all give
 * the new bytes; lseek(SEEK_END) must see the new size; a reader that hit
 * EOF must see bytes appended afterwards (tail -f).
 */
#include "common.h"

#define OLD_SIZE (256 * 1024 + 100)
#define SEED 6

static char buf[65536];

static void rd(int fd, size_t n)
{
	DO(fd, buf, read(fd, buf, n), "read(%zu)", n);
}

static void prd(int fd, size_t n, long long at)
{
	DO(fd, buf, pread(fd, buf, n, (off_t)at), "pread(%zu, %lld)", n, at);
}

static void rdv(int fd, size_t a, size_t b)
{
	static char x[65536], y[65536];
	struct iovec iov[2] = { { x, a }, { y, b } };

	DOV(fd, iov, 2, readv(fd, iov, 2), "readv(%zu+%zu)", a, b);
}

static void prdv(int fd, size_t a, size_t b, long long at)
{
	static char x[65536], y[65536];
	struct iovec iov[2] = { { x, a }, { y, b } };

	DOV(fd, iov, 2, preadv(fd, iov, 2, (off_t)at), "preadv(%zu+%zu, %lld)",
	    a, b, at);
}

/* Read in chunks until EOF; prints a line per call. */
static long long drain(int fd, size_t chunk)
{
	long long total = 0;

	for (;;) {
		long long n = DO(fd, buf, read(fd, buf, chunk), "read(%zu)",
				 chunk);

		if (n <= 0)
			return total;
		total += n;
	}
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	long long size = OLD_SIZE;
	int fd, app, wr;

	setup(argc, argv);
	make_file("log", OLD_SIZE, SEED);

	section("map the file");
	fd = open_ro("log");
	for (int i = 0; i < 3; i++)
		rd(fd, 4096);
	DO(fd, NULL, lseek(fd, OLD_SIZE - 10000, SEEK_SET),
	   "lseek(old_size - 10000, SEEK_SET)");
	get_stats(&before);
	rd(fd, 4096);
	rd(fd, 4096);
	get_stats(&after);
	preload_check("growth: reads before the old end were served",
		      after.reads_served > before.reads_served);

	section("append through another description");
	app = open(dpath("log"), O_WRONLY | O_APPEND);
	if (app < 0)
		die("open log for append");
	append_pattern(app, (uint64_t)size, 10000, SEED);
	size += 10000;
	printf("appended 10000 bytes: size %lld\n", size);
	rd(fd, 4096); /* straddles the old end */
	rd(fd, 4096);
	rd(fd, 4096);
	rd(fd, 4096);
	rd(fd, 4096); /* EOF */

	section("pread and preadv past and across the old end");
	prd(fd, 4096, OLD_SIZE - 100);
	prd(fd, 4096, OLD_SIZE);
	prd(fd, 4096, OLD_SIZE + 10);
	prd(fd, 100, OLD_SIZE - 100);
	prd(fd, 101, OLD_SIZE - 100);
	prd(fd, 4096, size - 50);
	prd(fd, 4096, size);
	prdv(fd, 50, 100, OLD_SIZE - 75);
	prdv(fd, 4000, 4000, 4096);

	section("lseek(SEEK_END) sees the new size");
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	DO(fd, NULL, lseek(fd, -100, SEEK_END), "lseek(-100, SEEK_END)");
	rd(fd, 4096);
	DO(fd, NULL, lseek(fd, OLD_SIZE + 500, SEEK_SET),
	   "lseek(old_size + 500, SEEK_SET)");
	rd(fd, 1000);
	DO(fd, NULL, lseek(fd, -1000, SEEK_CUR), "lseek(-1000, SEEK_CUR)");
	rd(fd, 1000);
	DO(fd, NULL, lseek(fd, OLD_SIZE - 3000, SEEK_SET),
	   "lseek(old_size - 3000, SEEK_SET)");
	rdv(fd, 2000, 2000);
	rdv(fd, 2000, 2000);
	DO(fd, NULL, lseek(fd, 0, SEEK_HOLE), "lseek(0, SEEK_HOLE)");

	section("tail -f: EOF, then more bytes");
	for (int round = 0; round < 5; round++) {
		size_t more = 3000 + (size_t)round * 1111;

		rd(fd, 4096);
		append_pattern(app, (uint64_t)size, more, SEED);
		size += (long long)more;
		printf("appended %zu bytes: size %lld\n", more, size);
		printf("drained %lld bytes\n", drain(fd, 1024));
	}

	section("overwrite inside the mapped range through a third description");
	wr = open(dpath("log"), O_WRONLY);
	if (wr < 0)
		die("open log for writing");
	DO(-1, NULL, pwrite(wr, "OVERWRITTEN", 11, 5000), "pwrite(\"OVERWRITTEN\", 5000)");
	prd(fd, 11, 5000);
	prd(fd, 100, 4950);
	DO(fd, NULL, lseek(fd, 4990, SEEK_SET), "lseek(4990, SEEK_SET)");
	rd(fd, 30);
	DO(fd, NULL, lseek(fd, 4096, SEEK_SET), "lseek(4096, SEEK_SET)");
	rdv(fd, 904, 20);

	section("ftruncate makes the file longer (zeros)");
	DO(-1, NULL, ftruncate(wr, size + 20000), "ftruncate(size + 20000)");
	size += 20000;
	prd(fd, 4096, size - 20000 - 10);
	prd(fd, 4096, size - 4096);
	prd(fd, 4096, size - 10);
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	DO(fd, NULL, lseek(fd, -30000, SEEK_END), "lseek(-30000, SEEK_END)");
	printf("drained %lld bytes\n", drain(fd, 4096));

	section("read the whole file again from the start");
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(0, SEEK_SET)");
	{
		uint64_t hash = FNV_INIT;
		long long total = 0;
		ssize_t n;

		while ((n = read(fd, buf, 3000)) > 0) {
			hash = fnv1a(hash, buf, (size_t)n);
			total += n;
		}
		printf("whole file: %lld bytes (size %lld) sum=%016" PRIx64
		       " last=%zd\n", total, size, hash, n);
	}

	close(wr);
	close(app);
	close(fd);

	section("a fresh description of the grown file");
	fd = open_ro("log");
	for (int i = 0; i < 3; i++)
		rd(fd, 4096);
	DO(fd, NULL, lseek(fd, size - 5000, SEEK_SET), "lseek(size - 5000, SEEK_SET)");
	printf("drained %lld bytes\n", drain(fd, 2048));
	close(fd);
	return 0;
}
