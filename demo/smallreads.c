/*
 * smallreads: read a file with read() in fixed-size chunks and print a
 * checksum — the access pattern of parsers, record readers and `dd bs=512`.
 *
 *   smallreads FILE [CHUNK_BYTES] [MODE] [COUNT]
 *
 * MODE is "read" (the default: read() from the start), "pread" (the same
 * chunks with pread() at explicit offsets, as databases do) or "random"
 * (pread() at chunk-aligned offsets drawn from a fixed-seed xorshift, so
 * every run reads the same places; "random-unaligned" drops the alignment).
 * COUNT stops after that many calls; it is how to read a part of a big file,
 * or a device such as /dev/zero that never ends. Random mode makes one call
 * per chunk of the file unless told otherwise.
 *
 * The checksum line goes to stdout and is the same natively and under
 * mmapread; the time the loop took goes to stderr. Run it both ways and
 * compare.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { SEQ_READ, SEQ_PREAD, RANDOM, RANDOM_UNALIGNED };

/*
 * One chunk's checksum folded into hash: its 8-byte words added up (which
 * the compiler vectorises) and one multiply per chunk, so that the reads,
 * not the checksum, dominate at every chunk size (a multiply per word cost
 * about as much as a 512-byte read itself); a wrong byte anywhere still
 * changes the result, and so does the order of the chunks.
 */
static uint64_t mix(uint64_t hash, const unsigned char *p, size_t n)
{
	uint64_t sum = n, word;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&word, p, 8);
		sum += word;
	}
	for (; n; p++, n--)
		sum = sum * 31 + *p;
	return (hash ^ sum) * 1099511628211ull;
}

/* Marsaglia's xorshift64: a fixed seed gives every run the same offsets. */
static uint64_t xorshift(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_mode(const char *s, enum mode *ret_mode)
{
	static const char *const names[] = {
		[SEQ_READ] = "read", [SEQ_PREAD] = "pread",
		[RANDOM] = "random", [RANDOM_UNALIGNED] = "random-unaligned",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret_mode = (enum mode)i;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	size_t chunk = argc > 2 ? strtoull(argv[2], NULL, 0) : 64;
	unsigned long long count = argc > 4 ? strtoull(argv[4], NULL, 0) : 0;
	uint64_t hash = 1469598103934665603ull, total = 0, calls = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull, span = 0;
	enum mode mode = SEQ_READ;
	unsigned char *buf;
	double start, secs;
	struct stat st;
	int fd;

	if (argc < 2 || argc > 5 || chunk == 0 ||
	    (argc > 3 && parse_mode(argv[3], &mode) < 0)) {
		fprintf(stderr, "usage: smallreads FILE [CHUNK_BYTES] "
			"[read|pread|random|random-unaligned] [COUNT]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	buf = malloc(chunk);
	if (fd < 0 || !buf || fstat(fd, &st) < 0) {
		fprintf(stderr, "smallreads: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	if (mode >= RANDOM &&
	    (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < chunk)) {
		fprintf(stderr, "smallreads: %s: %s\n", argv[1],
			"random reads need a regular file of a chunk or more");
		return 2;
	}
	if (mode >= RANDOM) {
		/* Where a read may start, so that none runs past the end. */
		span = mode == RANDOM ? (uint64_t)st.st_size / chunk
				      : (uint64_t)st.st_size - chunk + 1;
		if (count == 0)
			count = (uint64_t)st.st_size / chunk;
	}

	start = now();
	while (count == 0 || calls < count) {
		uint64_t off = total;
		ssize_t n;

		if (mode == RANDOM)
			off = xorshift(&seed) % span * chunk;
		else if (mode == RANDOM_UNALIGNED)
			off = xorshift(&seed) % span;
		n = mode == SEQ_READ ? read(fd, buf, chunk)
				     : pread(fd, buf, chunk, (off_t)off);
		calls++;
		if (n < 0) {
			fprintf(stderr, "smallreads: read: %s\n",
				strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		hash = mix(hash, buf, (size_t)n);
		total += (uint64_t)n;
	}
	secs = now() - start;

	printf("%llu bytes in %llu calls, checksum %016llx\n",
	       (unsigned long long)total, (unsigned long long)calls,
	       (unsigned long long)hash);
	fprintf(stderr, "smallreads: %.3f ms, %.1f MB/s\n", secs * 1e3,
		secs > 0 ? total / secs / 1e6 : 0.0);
	close(fd);
	free(buf);
	return 0;
}
