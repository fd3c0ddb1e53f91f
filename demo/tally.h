/*
 * The checksum of demo/getlines, shared with doc/measure/getline_floor.c so
 * that the floor it measures does the same work per line.
 */
#ifndef DEMO_TALLY_H
#define DEMO_TALLY_H

#include <stdint.h>
#include <string.h>

struct tally {
	uint64_t hash, bytes, newlines;
	int last; /* the last byte seen, -1 before any */
};

/*
 * One piece folded into the checksum: its 8-byte words added up (which the
 * compiler vectorises) and one multiply per piece, so that stdio, not the
 * checksum, dominates the time even for short lines. getline and fgets end
 * a piece at its first newline, so only fread's pieces need a search.
 */
static void tally_piece(struct tally *t, const char *p, size_t n,
			int search)
{
	uint64_t sum = n, word;
	const char *nl = p, *end = p + n;

	if (n == 0)
		return;
	t->bytes += n;
	t->last = (unsigned char)p[n - 1];
	if (!search) {
		t->newlines += t->last == '\n';
	} else {
		while ((nl = memchr(nl, '\n', (size_t)(end - nl)))) {
			t->newlines++;
			nl++;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&word, p, 8);
		sum += word;
	}
	for (; n; p++, n--)
		sum = sum * 31 + (unsigned char)*p;
	t->hash = (t->hash ^ sum) * 1099511628211ull;
}

#endif
