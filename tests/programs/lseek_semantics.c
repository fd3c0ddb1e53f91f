/*
 * lseek_semantics: every whence, at every interesting place, as the kernel.
 *
 * The same suite runs on a description mmapread has not mapped (a fresh
 * open) and on one it has mapped (after small reads), where it answers
 * SEEK_SET/SEEK_CUR itself and hands the rest to the kernel. Each step
 * prints the result, errno and the offset after it, and a small read
 * (checksummed) shows where the next read really starts: SEEK_SET/CUR/END
 * at 0, EOF-1, EOF and past EOF, negative targets (EINVAL, offset kept),
 * overflowing SEEK_CUR, huge offsets (1<<40, INT64_MAX), invalid whences,
 * and SEEK_DATA/SEEK_HOLE on a sparse file (ENXIO at and past EOF).
 */
#include "common.h"

#include <stdint.h>

#define DATA_SIZE (300 * 1024 + 123)
/* sparse: data [0, 64K) and [512K, 576K), holes elsewhere, size 1 MiB+7 */
#define SPARSE_SIZE (1024 * 1024 + 7)

static void step_read(int fd, size_t n)
{
	char buf[4096];

	DO(fd, buf, read(fd, buf, n), "    read(%zu)", n);
}

static void seek(int fd, long long off, int whence, const char *wname)
{
	DO(fd, NULL, lseek(fd, (off_t)off, whence), "lseek(%lld, %s)", off,
	   wname);
}

#define SEEK(fd, off, whence) seek(fd, off, whence, #whence)

/* The whences user space could answer and the ones it cannot. */
static void seek_suite(int fd, long long size)
{
	char buf[4096];

	SEEK(fd, 0, SEEK_SET);
	step_read(fd, 100);
	SEEK(fd, 0, SEEK_CUR);
	SEEK(fd, 1000, SEEK_CUR);
	step_read(fd, 100);
	SEEK(fd, -500, SEEK_CUR);
	step_read(fd, 100);
	SEEK(fd, size - 1, SEEK_SET);
	step_read(fd, 10);
	step_read(fd, 10);
	SEEK(fd, size, SEEK_SET);
	step_read(fd, 10);
	SEEK(fd, size + 5000, SEEK_SET);
	step_read(fd, 10);
	DO(fd, buf, pread(fd, buf, 100, 0), "    pread(100, 0)");
	SEEK(fd, -5000, SEEK_CUR);
	step_read(fd, 4096);
	SEEK(fd, 0, SEEK_END);
	step_read(fd, 10);
	SEEK(fd, -1, SEEK_END);
	step_read(fd, 10);
	SEEK(fd, 10, SEEK_END);
	step_read(fd, 10);
	SEEK(fd, -size, SEEK_END);
	step_read(fd, 100);

	/* Negative results: EINVAL, and the offset stays where it was. */
	SEEK(fd, 777, SEEK_SET);
	SEEK(fd, -(size + 1), SEEK_END);
	SEEK(fd, -778, SEEK_CUR);
	SEEK(fd, -1, SEEK_SET);
	SEEK(fd, INT64_MIN, SEEK_SET);
	SEEK(fd, INT64_MIN, SEEK_CUR);
	SEEK(fd, INT64_MIN, SEEK_END);
	step_read(fd, 100);

	/* Huge offsets. */
	SEEK(fd, 1LL << 40, SEEK_SET);
	step_read(fd, 100);
	DO(fd, buf, pread(fd, buf, 100, 1LL << 40), "    pread(100, 1<<40)");
	SEEK(fd, INT64_MAX, SEEK_CUR);
	SEEK(fd, 1LL << 40, SEEK_CUR);
	SEEK(fd, INT64_MAX, SEEK_SET);
	SEEK(fd, INT64_MAX, SEEK_END);
	SEEK(fd, INT64_MAX - size, SEEK_END);
	SEEK(fd, (1LL << 40) - size, SEEK_END);
	SEEK(fd, -(1LL << 40) + 300, SEEK_CUR);
	step_read(fd, 100);
	SEEK(fd, 4096, SEEK_SET);
	SEEK(fd, INT64_MAX, SEEK_CUR);
	SEEK(fd, INT64_MAX - 4096, SEEK_CUR);
	SEEK(fd, INT64_MAX - 4096 - 1000, SEEK_SET);
	SEEK(fd, 2000, SEEK_CUR);
	step_read(fd, 100);

	/* Invalid whences. */
	SEEK(fd, 1234, SEEK_SET);
	seek(fd, 0, 5, "5");
	seek(fd, 0, 99, "99");
	seek(fd, 0, -1, "-1");
	seek(fd, 10, 0x7fffffff, "INT_MAX");
	step_read(fd, 100);

	/* SEEK_DATA/SEEK_HOLE on a file without holes. */
	SEEK(fd, 0, SEEK_DATA);
	SEEK(fd, 0, SEEK_HOLE);
	SEEK(fd, size - 1, SEEK_DATA);
	SEEK(fd, size, SEEK_DATA);
	SEEK(fd, size, SEEK_HOLE);
	SEEK(fd, -1, SEEK_DATA);
	SEEK(fd, 100, SEEK_DATA);
	step_read(fd, 100);
}

static void hole_suite(int fd, long long size)
{
	static const long long at[] = {
		0, 1, 4095, 4096, 65535, 65536, 65537, 100000, 512 * 1024 - 1,
		512 * 1024, 512 * 1024 + 1, 576 * 1024 - 1, 576 * 1024,
		600 * 1024, 1024 * 1024, 1024 * 1024 + 6,
	};

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		SEEK(fd, at[i], SEEK_DATA);
		step_read(fd, 64);
		SEEK(fd, at[i], SEEK_HOLE);
		step_read(fd, 64);
	}
	SEEK(fd, 3000, SEEK_SET);
	SEEK(fd, size, SEEK_DATA);
	SEEK(fd, size, SEEK_HOLE);
	SEEK(fd, size + 1, SEEK_DATA);
	SEEK(fd, size + 1, SEEK_HOLE);
	SEEK(fd, 1LL << 40, SEEK_DATA);
	SEEK(fd, 1LL << 40, SEEK_HOLE);
	SEEK(fd, INT64_MAX, SEEK_HOLE);
	SEEK(fd, -1, SEEK_HOLE);
	step_read(fd, 64);
	SEEK(fd, 512 * 1024 - 10, SEEK_SET);
	step_read(fd, 64);
	SEEK(fd, -8, SEEK_END);
	step_read(fd, 64);
}

static void make_sparse(void)
{
	int fd = open(dpath("sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create sparse");
	append_pattern(fd, 0, 64 * 1024, 5);
	if (lseek(fd, 512 * 1024, SEEK_SET) != 512 * 1024)
		die("seek sparse");
	append_pattern(fd, 512 * 1024, 64 * 1024, 5);
	if (ftruncate(fd, SPARSE_SIZE) != 0)
		die("ftruncate sparse");
	if (fsync(fd) != 0)
		die("fsync sparse");
	close(fd);
}

/* Three small reads, which is when mmapread maps a file it watches. */
static void map_by_reading(int fd)
{
	char buf[4096];

	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 1024), "map: read(1024)");
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	int fd;

	setup(argc, argv);
	make_file("data", DATA_SIZE, 4);
	make_sparse();

	section("data, not mapped (no read yet)");
	fd = open_ro("data");
	seek_suite(fd, DATA_SIZE);
	close(fd);

	section("data, mapped");
	fd = open_ro("data");
	map_by_reading(fd);
	get_stats(&before);
	seek_suite(fd, DATA_SIZE);
	get_stats(&after);
	preload_check("lseek: answered from the mapped description",
		      after.lseeks_served > before.lseeks_served &&
			      served_total(&after) > served_total(&before));
	close(fd);

	section("sparse, not mapped");
	fd = open_ro("sparse");
	hole_suite(fd, SPARSE_SIZE);
	close(fd);

	section("sparse, mapped");
	fd = open_ro("sparse");
	map_by_reading(fd);
	get_stats(&before);
	hole_suite(fd, SPARSE_SIZE);
	seek_suite(fd, SPARSE_SIZE);
	get_stats(&after);
	preload_check("lseek: sparse file served from the mapping",
		      served_total(&after) > served_total(&before));
	close(fd);

	section("lseek on names that are not open files");
	DO(-1, NULL, lseek(-1, 0, SEEK_SET), "lseek(-1, 0, SEEK_SET)");
	DO(-1, NULL, lseek(fd, 0, SEEK_CUR), "lseek(closed fd, 0, SEEK_CUR)");
	return 0;
}
