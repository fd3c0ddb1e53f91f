/*
 * stdio_threads: threads reading one served stdio stream at once, and
 * threads each reading their own stream of one file.
 *
 * glibc locks a FILE around each call once a second thread exists, so
 * concurrent getline()s and fgets()s on one stream each take whole lines:
 * which thread gets which line varies, but the lines taken, all together,
 * are the file's lines, each once. mmapread's stdio code must keep that
 * (it takes the FILE's lock as libc does) while it refills the buffer from
 * the mapping. Printed: how many lines and bytes the threads took in
 * total, an order-free checksum of the lines (a sum of their hashes), and
 * the stream's position, end-of-file flag and the fd's offset after all
 * joined. Then four threads read the file through four streams of their
 * own, with fread, getc and fgets, and print each stream's checksum.
 */
#include "common.h"

#include <pthread.h>

#define LINES 60000
#define THREADS 4

static FILE *shared;
static const char *lines_path; /* dpath() is not thread-safe */
static char own_result[THREADS][128];
static _Atomic uint64_t total_lines, total_bytes, line_sum;

static void make_lines(const char *name)
{
	FILE *f = fopen(dpath(name), "w");

	if (!f)
		die("fopen %s", name);
	for (int i = 0; i < LINES; i++)
		fprintf(f, "line %d %.*s\n", i, i % 97,
			"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
			"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv");
	if (fclose(f) != 0)
		die("fclose %s", name);
}

static void take_line(const char *line, size_t len)
{
	atomic_fetch_add(&total_lines, 1);
	atomic_fetch_add(&total_bytes, len);
	atomic_fetch_add(&line_sum, fnv1a(14695981039346656037ull, line, len));
}

static void *shared_reader(void *arg)
{
	long id = (long)arg;
	char *line = NULL, buf[4096];
	size_t cap = 0;
	ssize_t n;

	for (;;) {
		if (id % 2 == 0) {
			n = getline(&line, &cap, shared);
			if (n < 0)
				break;
			take_line(line, (size_t)n);
		} else {
			if (!fgets(buf, sizeof(buf), shared))
				break;
			take_line(buf, strlen(buf));
		}
	}
	free(line);
	return NULL;
}

static void *own_reader(void *arg)
{
	long id = (long)arg;
	FILE *f = fopen(lines_path, "r");
	uint64_t hash = 14695981039346656037ull;
	char buf[3000];
	size_t n;
	int c;

	if (!f)
		die("fopen lines");
	for (;;) {
		if (id == 0) {
			n = fread(buf, 1, id + 700, f);
		} else if (id == 1) {
			c = getc(f);
			n = c == EOF ? 0 : 1;
			buf[0] = (char)c;
		} else {
			n = fgets(buf, (int)sizeof(buf), f) ? strlen(buf) : 0;
		}
		if (n == 0)
			break;
		hash = fnv1a(hash, buf, n);
	}
	snprintf(own_result[id], sizeof(own_result[id]),
		 "own stream %ld: sum=%016" PRIx64 " tell=%ld eof=%d", id,
		 hash, ftell(f), feof(f) != 0);
	fclose(f);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[THREADS];

	setup(argc, argv);
	make_lines("lines");
	lines_path = strdup(dpath("lines"));

	section("four threads, one stream");
	shared = fopen(dpath("lines"), "r");
	if (!shared)
		die("fopen lines");
	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&tid[i], NULL, shared_reader, (void *)i))
			die("pthread_create");
	for (int i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	printf("lines=%" PRIu64 " bytes=%" PRIu64 " sum=%016" PRIx64 "\n",
	       atomic_load(&total_lines), atomic_load(&total_bytes),
	       atomic_load(&line_sum));
	printf("tell=%ld eof=%d", ftell(shared), feof(shared) != 0);
	put_offset(fileno(shared));
	printf("\n");
	fclose(shared);

	section("four threads, a stream each");
	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&tid[i], NULL, own_reader, (void *)i))
			die("pthread_create");
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		printf("%s\n", own_result[i]);
	}
	return 0;
}
