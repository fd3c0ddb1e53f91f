/*
 * getlines: read a file through stdio and print its line count and a
 * checksum: the access pattern of md5sum, sed, sort and most C programs
 * that parse text, which fill a FILE's buffer with read() calls that a
 * read()-only interposer never sees.
 *
 *   getlines FILE [getline|fgets|fread] [FREAD_BYTES]
 *
 * MODE "getline" (the default) reads line by line with getline(), "fgets"
 * with fgets() into a 4 KiB buffer (a longer line comes back in pieces, as
 * it does to such programs), "fread" in FREAD_BYTES pieces (default 4096).
 * The file is opened with fopen(FILE, "r") and read with the stream's
 * default buffer, as the programs above do.
 *
 * stdout gets the line count (newlines, plus one for an unterminated last
 * line: the same in every mode), the byte count and a checksum of the
 * pieces in the order stdio returned them, so that a wrong byte or a piece
 * split at a different place changes it (it therefore differs between
 * modes; compare runs of one mode). The time the loop took goes to stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tally.h"

#define FGETS_BUF 4096

enum mode { GETLINE, FGETS, FREAD };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_mode(const char *s, enum mode *ret_mode)
{
	static const char *const names[] = {
		[GETLINE] = "getline", [FGETS] = "fgets", [FREAD] = "fread",
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
	struct tally t = { .hash = 1469598103934665603ull, .last = -1 };
	size_t chunk = argc > 3 ? strtoull(argv[3], NULL, 0) : 4096;
	enum mode mode = GETLINE;
	char *buf = NULL;
	size_t cap = 0;
	double start, secs;
	uint64_t lines;
	ssize_t len;
	size_t n;
	FILE *f;

	if (argc < 2 || argc > 4 || chunk == 0 ||
	    (argc > 2 && parse_mode(argv[2], &mode) < 0) ||
	    (argc > 3 && mode != FREAD)) {
		fprintf(stderr, "usage: getlines FILE [getline|fgets|fread] "
			"[FREAD_BYTES]\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "getlines: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	if (mode != GETLINE) {
		cap = mode == FGETS ? FGETS_BUF : chunk;
		buf = malloc(cap);
		if (!buf) {
			fprintf(stderr, "getlines: %s\n", strerror(errno));
			return 1;
		}
	}

	start = now();
	switch (mode) {
	case GETLINE:
		while ((len = getline(&buf, &cap, f)) > 0)
			tally_piece(&t, buf, (size_t)len, 0);
		break;
	case FGETS:
		/* Pieces may hold a NUL: strlen finds where fgets stopped
		 * only in text, which is what this mode is for. */
		while (fgets(buf, (int)cap, f))
			tally_piece(&t, buf, strlen(buf), 0);
		break;
	case FREAD:
		while ((n = fread(buf, 1, cap, f)) > 0)
			tally_piece(&t, buf, n, 1);
		break;
	}
	secs = now() - start;
	if (ferror(f)) {
		fprintf(stderr, "getlines: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}

	lines = t.newlines + (t.last >= 0 && t.last != '\n');
	printf("%llu lines, %llu bytes, checksum %016llx\n",
	       (unsigned long long)lines, (unsigned long long)t.bytes,
	       (unsigned long long)t.hash);
	fprintf(stderr, "getlines: %.3f ms, %.1f MB/s\n", secs * 1e3,
		secs > 0 ? t.bytes / secs / 1e6 : 0.0);
	fclose(f);
	free(buf);
	return 0;
}
