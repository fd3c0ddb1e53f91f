/*
 * smallreads: read a file with read() in fixed-size chunks and print a
 * checksum — the access pattern of parsers, record readers and `dd bs=512`.
 *
 *   smallreads FILE [CHUNK_BYTES] [pread]
 *
 * With "pread" it reads the same chunks with pread() at explicit offsets,
 * as databases do. Run it natively and under mmapread and compare.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Cheap enough (8 bytes a step) that the reads, not the checksum, dominate. */
static uint64_t mix(uint64_t hash, const unsigned char *p, size_t n)
{
	uint64_t word;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&word, p, 8);
		hash = (hash ^ word) * 1099511628211ull;
	}
	for (; n; p++, n--)
		hash = (hash ^ *p) * 1099511628211ull;
	return hash;
}

int main(int argc, char **argv)
{
	size_t chunk = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
	int positional = argc > 3 && strcmp(argv[3], "pread") == 0;
	uint64_t hash = 1469598103934665603ull, total = 0, calls = 0;
	unsigned char *buf;
	int fd;

	if (argc < 2 || chunk == 0) {
		fprintf(stderr, "usage: smallreads FILE [CHUNK_BYTES] [pread]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	buf = malloc(chunk);
	if (fd < 0 || !buf) {
		fprintf(stderr, "smallreads: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = positional ? pread(fd, buf, chunk, (off_t)total)
				       : read(fd, buf, chunk);

		calls++;
		if (n < 0) {
			fprintf(stderr, "smallreads: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		hash = mix(hash, buf, (size_t)n);
		total += (uint64_t)n;
	}
	printf("%llu bytes in %llu calls, checksum %016llx\n",
	       (unsigned long long)total, (unsigned long long)calls,
	       (unsigned long long)hash);
	close(fd);
	free(buf);
	return 0;
}
