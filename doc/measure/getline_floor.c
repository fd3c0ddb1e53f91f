/*
 * getline_floor: how fast a getline loop over a file can be when its bytes
 * come from a mapping, with none of mmapread's or glibc's bookkeeping: the
 * floor that demo/getlines under mmapread is measured against.
 *
 *   gcc -O2 -Wall -Wextra -I../../demo -o getline_floor getline_floor.c
 *   ./getline_floor FILE copy      4 KiB copied from the mapping into a
 *                                  buffer per refill (what an exact stream
 *                                  must do), memchr+memcpy per line
 *   ./getline_floor FILE inplace   each line found and copied straight from
 *                                  the mapping (no snapshot: not exact)
 *
 * It prints the same line as demo/getlines (compare the checksums) and the
 * loop's time on stderr. Run it alternated with
 * `demo/getlines FILE getline` natively.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tally.h"

#define BLOCK 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* mmapread's copy is a rep movsb. */
static void copy_movsb(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static char *line;
static size_t cap;

static void room(size_t need)
{
	if (need <= cap)
		return;
	cap = 2 * need;
	line = realloc(line, cap);
	if (!line) {
		perror("realloc");
		exit(1);
	}
}

static void by_copy(struct tally *t, const char *map, size_t size)
{
	static char block[BLOCK];
	size_t pos = 0, at = 0, end = 0, len;

	for (;;) {
		size_t cur = 0;
		const char *nl = NULL;

		while (!nl) {
			if (at == end) {
				size_t n = size - pos < BLOCK ? size - pos : BLOCK;

				if (!n)
					break;
				copy_movsb(block, map + pos, n);
				pos += n;
				at = 0;
				end = n;
			}
			nl = memchr(block + at, '\n', end - at);
			len = nl ? (size_t)(nl - (block + at)) + 1 : end - at;
			room(cur + len + 1);
			memcpy(line + cur, block + at, len);
			cur += len;
			at += len;
		}
		if (!cur)
			return;
		line[cur] = '\0';
		tally_piece(t, line, cur, 0);
	}
}

static void in_place(struct tally *t, const char *map, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		const char *p = map + pos;
		const char *nl = memchr(p, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - p) + 1 : size - pos;

		room(len + 1);
		memcpy(line, p, len);
		line[len] = '\0';
		pos += len;
		tally_piece(t, line, len, 0);
	}
}

int main(int argc, char **argv)
{
	struct tally t = { .hash = 1469598103934665603ull, .last = -1 };
	struct stat st;
	const char *map;
	double start;
	int fd;

	if (argc != 3 || (strcmp(argv[2], "copy") && strcmp(argv[2], "inplace"))) {
		fprintf(stderr, "usage: getline_floor FILE copy|inplace\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
		perror(argv[1]);
		return 1;
	}
	start = now();
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (argv[2][0] == 'c')
		by_copy(&t, map, (size_t)st.st_size);
	else
		in_place(&t, map, (size_t)st.st_size);
	munmap((void *)map, (size_t)st.st_size);
	fprintf(stderr, "getline_floor %s: %.3f ms\n", argv[2],
		(now() - start) * 1e3);
	printf("%llu lines, %llu bytes, checksum %016llx\n",
	       (unsigned long long)(t.newlines + (t.last >= 0 && t.last != '\n')),
	       (unsigned long long)t.bytes, (unsigned long long)t.hash);
	free(line);
	return 0;
}
