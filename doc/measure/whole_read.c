/*
 * whole_read: one read() of a whole file, as sort's fread makes it, against
 * the same bytes copied from a mapping (what serving it would cost).
 *
 *   gcc -O2 -Wall -Wextra -o whole_read whole_read.c
 *   ./whole_read FILE read|map|populate
 *
 * Each run copies into a fresh malloc'd buffer, as sort does, and prints
 * the wall time of the read or of mmap + copy (rep movsb, as mmapread's) +
 * munmap. Alternate the modes, on a cached file, in both page-cache layouts.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct stat st;
	size_t size;
	double start;
	ssize_t got;
	char *buf;
	int fd;

	if (argc != 3 || (strcmp(argv[2], "read") && strcmp(argv[2], "map") &&
			  strcmp(argv[2], "populate"))) {
		fprintf(stderr, "usage: whole_read FILE read|map|populate\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
		perror(argv[1]);
		return 1;
	}
	size = (size_t)st.st_size;
	buf = malloc(size + 4096);
	if (!buf) {
		perror("malloc");
		return 1;
	}
	start = now();
	if (argv[2][0] == 'r') {
		got = read(fd, buf, size + 4096);
	} else {
		void *dst = buf;
		const void *src;
		size_t n = size;
		char *map = mmap(NULL, size, PROT_READ,
				 MAP_SHARED |
					 (argv[2][0] == 'p' ? MAP_POPULATE : 0),
				 fd, 0);

		if (map == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		src = map;
		__asm__ volatile("rep movsb"
				 : "+D"(dst), "+S"(src), "+c"(n)
				 :
				 : "memory");
		munmap(map, size);
		got = (ssize_t)size;
	}
	printf("%s: %.2f ms, %zd bytes\n", argv[2], (now() - start) * 1e3, got);
	free(buf);
	return 0;
}
