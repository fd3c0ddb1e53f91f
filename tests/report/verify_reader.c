/*
 * verify_reader: reads a file in 64-byte pieces from read_records() and
 * prints how many bytes it read and their checksum (FNV-1a). Linked with
 * -rdynamic, so that a call trace can name read_records. Used by
 * verify-seeded.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

uint64_t read_records(int fd, uint64_t *ret_n);

/* Not static: -rdynamic puts it in the dynamic symbol table. */
__attribute__((noinline)) uint64_t read_records(int fd, uint64_t *ret_n)
{
	unsigned char buf[64];
	uint64_t hash = 0xcbf29ce484222325ull;
	ssize_t got;

	*ret_n = 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < got; i++)
			hash = (hash ^ buf[i]) * 0x100000001b3ull;
		*ret_n += (uint64_t)got;
	}
	return hash;
}

int main(int argc, char **argv)
{
	uint64_t n, hash;
	int fd;

	if (argc != 2 || (fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: verify_reader FILE\n");
		return 2;
	}
	hash = read_records(fd, &n);
	printf("%" PRIu64 " bytes, fnv1a %016" PRIx64 "\n", n, hash);
	return 0;
}
