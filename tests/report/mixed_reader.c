/*
 * mixed_reader: the report tests' own reader (tests/report/report.py).
 *
 * It reads each FILE with every call mmapread can answer from a mapping:
 * read() of 40 and 100 bytes, lseek(SEEK_CUR) forwards and lseek(fd, 0,
 * SEEK_CUR) to ask the offset, pread() of 1000 bytes, a readv() of 4210
 * bytes into three buffers, and now and then a pread() of 70000 bytes. One
 * run so fills every "served" counter of the report and every bucket of a
 * file's size histogram, which the schema test needs to check the sums,
 * and the strace test needs to prove each kind of call is counted as what
 * it is. The Nth file gets N times ROUNDS rounds, so the report's "files"
 * list has a known order (the last file first) for the MMAPREAD_TOP checks.
 *
 * stdout shows per file only what the kernel's semantics decide: bytes
 * read, a checksum of them and the final offset; it must be identical
 * natively and under the preload.
 *
 * usage: mixed_reader ROUNDS FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define BIG_PREAD 70000

/* Everything one round moves the offset by: 40 + 100 + 7 + 4210. */
#define ROUND_ADVANCE 4357

static unsigned char buf[BIG_PREAD];

static uint64_t fnv1a(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ull;
	}
	return hash;
}

static void fail(const char *what, const char *path)
{
	printf("%s failed: %s\n", what, strerror(errno));
	fprintf(stderr, "mixed_reader: %s of %s: %s\n", what, path,
		strerror(errno));
	exit(1);
}

/* A read of count bytes at the offset; the bytes go into the checksum. */
static void get(int fd, size_t count, uint64_t *hash, uint64_t *total,
		const char *path)
{
	ssize_t n = read(fd, buf, count);

	if (n < 0)
		fail("read", path);
	*hash = fnv1a(*hash, buf, (size_t)n);
	*total += (uint64_t)n;
}

static void pget(int fd, size_t count, off_t at, uint64_t *hash,
		 uint64_t *total, const char *path)
{
	ssize_t n = pread(fd, buf, count, at);

	if (n < 0)
		fail("pread", path);
	*hash = fnv1a(*hash, buf, (size_t)n);
	*total += (uint64_t)n;
}

static void read_file(const char *path, long rounds)
{
	unsigned char a[10], b[200], c[4000];
	struct iovec iov[3] = {
		{ a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) }
	};
	uint64_t hash = 0xcbf29ce484222325ull, total = 0;
	struct stat st;
	off_t pos, size;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		fail("open", path);
	size = st.st_size;
	if (size < BIG_PREAD + ROUND_ADVANCE)
		fail("a file of at least 74357 bytes", path);
	for (long r = 0; r < rounds; r++) {
		pos = lseek(fd, 0, SEEK_CUR);
		if (pos < 0)
			fail("lseek SEEK_CUR 0", path);
		if (pos + ROUND_ADVANCE > size && lseek(fd, 0, SEEK_SET) != 0)
			fail("lseek SEEK_SET", path);
		get(fd, 40, &hash, &total, path);
		get(fd, 100, &hash, &total, path);
		if (lseek(fd, 7, SEEK_CUR) < 0)
			fail("lseek SEEK_CUR 7", path);
		pget(fd, 1000, (off_t)((r * 4099) % (size - 1000)), &hash,
		     &total, path);
		n = readv(fd, iov, 3);
		if (n < 0)
			fail("readv", path);
		total += (uint64_t)n;
		for (int i = 0; i < 3 && n > 0; i++) {
			size_t part = (size_t)n < iov[i].iov_len
					      ? (size_t)n
					      : iov[i].iov_len;

			hash = fnv1a(hash, iov[i].iov_base, part);
			n -= (ssize_t)part;
		}
		if (r % 16 == 15)
			pget(fd, BIG_PREAD, (off_t)(r % 3), &hash, &total,
			     path);
	}
	pos = lseek(fd, 0, SEEK_CUR);
	printf("%ld rounds: %" PRIu64 " bytes read, checksum "
	       "%016" PRIx64 ", offset %lld\n",
	       rounds, total, hash, (long long)pos);
	if (close(fd) != 0)
		fail("close", path);
}

int main(int argc, char **argv)
{
	long rounds;

	if (argc < 3) {
		fprintf(stderr, "usage: mixed_reader ROUNDS FILE...\n");
		return 2;
	}
	rounds = strtol(argv[1], NULL, 10);
	for (int i = 2; i < argc; i++)
		read_file(argv[i], rounds * (i - 1));
	return 0;
}
