/*
 * c17_aligned_alloc: preloaded ahead of libasan or libtsan in the
 * sanitized builds' preloaded runs (tests/meson.build), so that
 * aligned_alloc() keeps the semantics of C17 and of glibc.
 *
 * gcc 12's libasan and libtsan still enforce C11's rule that the size be
 * a multiple of the alignment, which DR 460 dropped (C17) and glibc never
 * enforced, and abort the process with "invalid-aligned-alloc-alignment"
 * (google/sanitizers#1495). coreutils dd takes its buffer from
 * aligned_alloc(page size, bs), so every dd with a block size that is not
 * a multiple of 4096 would die of a finding that is not one. memalign()
 * is the runtime's own: the block is still tracked and checked.
 */
#include <malloc.h>
#include <stdlib.h>

void *aligned_alloc(size_t alignment, size_t size)
{
	return memalign(alignment, size);
}
