/*
 * The description pool.
 *
 * Objects live in chunks obtained with mmap and never returned, so a thread
 * holding a stale pointer can still read the reference count safely (see
 * mr_desc.h). The free list is a Treiber stack whose head packs a 32-bit tag
 * with the index, which defeats ABA without a lock: close() may run inside a
 * signal handler, so nothing here may block. Objects never used yet come
 * from a cursor, so a chunk's pages are touched only as objects are first
 * handed out: a process that opens a few files faults in a few pages, not
 * the whole megabyte of a chunk (an object carries a file's name).
 */
#include "mr_desc.h"

#include <string.h>
#include <sys/mman.h>

#include "mr_atomic.h"
#include "mr_section.h"
#include "mr_stats.h"

#define POOL_CHUNK 256u
#define POOL_MAX_CHUNKS 16384u /* 4 Mi descriptions */

static struct mr_desc *_Atomic pool_chunks[POOL_MAX_CHUNKS] MR_LARGE_TABLE;
static _Atomic uint32_t fresh_next; /* objects ever handed out */
static _Atomic uint64_t free_head; /* tag << 32 | (index + 1), 0: empty */
static _Atomic uint32_t live_count;
static _Atomic uint32_t mapped_count;
static _Atomic uint64_t mapped_bytes;

static struct mr_desc *pool_at(uint32_t index)
{
	struct mr_desc *chunk = atomic_load_explicit(
		&pool_chunks[index / POOL_CHUNK], memory_order_acquire);

	return &chunk[index % POOL_CHUNK];
}

static void free_push(struct mr_desc *desc)
{
	uint64_t head = atomic_load_explicit(&free_head, memory_order_relaxed);
	uint64_t next;

	bool single = mr_single();

	do {
		atomic_store_explicit(&desc->next_free, head & 0xffffffffu,
				      memory_order_relaxed);
		next = ((head >> 32) + 1) << 32 | (desc->pool_index + 1u);
	} while (!mr_cas_u64(&free_head, &head, next, single));
}

static struct mr_desc *free_pop(void)
{
	uint64_t head = atomic_load_explicit(&free_head, memory_order_acquire);
	uint64_t next;
	struct mr_desc *desc;

	bool single = mr_single();

	do {
		if ((head & 0xffffffffu) == 0)
			return NULL;
		desc = pool_at((uint32_t)(head & 0xffffffffu) - 1u);
		next = ((head >> 32) + 1) << 32 |
		       atomic_load_explicit(&desc->next_free,
					    memory_order_relaxed);
	} while (!mr_cas_u64(&free_head, &head, next, single));
	return desc;
}

/*
 * An object never used before: the next index, in a chunk mapped by the
 * first caller that needs it (a failed mmap loses that index only, and the
 * next caller for the chunk tries again).
 */
static struct mr_desc *fresh_object(void)
{
	uint32_t index = atomic_fetch_add(&fresh_next, 1);
	uint32_t chunk_no = index / POOL_CHUNK;
	struct mr_desc *chunk, *expected = NULL;

	if (chunk_no >= POOL_MAX_CHUNKS) {
		atomic_store(&fresh_next, POOL_MAX_CHUNKS * POOL_CHUNK);
		return NULL;
	}
	chunk = atomic_load_explicit(&pool_chunks[chunk_no],
				     memory_order_acquire);
	if (!chunk) {
		chunk = mmap(NULL, POOL_CHUNK * sizeof(*chunk),
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mr_count(MR_C_SYS_MMAP, 1);
		if (chunk == MAP_FAILED)
			return NULL;
		if (!atomic_compare_exchange_strong_explicit(
			    &pool_chunks[chunk_no], &expected, chunk,
			    memory_order_acq_rel, memory_order_acquire)) {
			munmap(chunk, POOL_CHUNK * sizeof(*chunk));
			mr_count(MR_C_SYS_MUNMAP, 1);
			chunk = expected;
		}
	}
	chunk[index % POOL_CHUNK].pool_index = index;
	return &chunk[index % POOL_CHUNK];
}

struct mr_desc *mr_desc_new(int open_flags)
{
	struct mr_desc *desc = free_pop();

	if (!desc)
		desc = fresh_object();
	if (!desc)
		return NULL;
	atomic_store_explicit(&desc->state, MR_WATCHING, memory_order_relaxed);
	atomic_store_explicit(&desc->deciding, 0, memory_order_relaxed);
	atomic_store_explicit(&desc->inflight, 0, memory_order_relaxed);
	atomic_store_explicit(&desc->positional_ok, false,
			      memory_order_relaxed);
	desc->open_flags = open_flags;
	desc->map = NULL;
	desc->map_len = 0;
	atomic_store_explicit(&desc->offset, 0, memory_order_relaxed);
	atomic_store_explicit(&desc->watched_reads, 0, memory_order_relaxed);
	atomic_store_explicit(&desc->watched_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&desc->stdio, false, memory_order_relaxed);
	desc->file_known = false;
	mr_add_u32(&live_count, 1, mr_single());
	/* Publishing refs last makes every field above visible to tryget. */
	atomic_store_explicit(&desc->refs, 1, memory_order_release);
	return desc;
}

bool mr_desc_tryget(struct mr_desc *desc)
{
	return mr_desc_tryget_fast(desc, mr_single());
}

void mr_desc_get(struct mr_desc *desc)
{
	mr_add_u32(&desc->refs, 1, mr_single());
}

void mr_desc_put(struct mr_desc *desc)
{
	mr_desc_put_fast(desc, mr_single());
}

void mr_desc_release(struct mr_desc *desc)
{
	if (desc->file_known)
		mr_stats_fold(&desc->file, &desc->counters, true);
	if (desc->map) {
		munmap((void *)desc->map, desc->map_len);
		mr_count(MR_C_SYS_MUNMAP, 1);
		mr_desc_budget_return(desc->map_len);
		desc->map = NULL;
	}
	mr_add_u32(&live_count, (uint32_t)-1, mr_single());
	free_push(desc);
}

void mr_desc_for_each_live(void (*fn)(struct mr_desc *desc, void *arg),
			   void *arg)
{
	uint32_t used = atomic_load_explicit(&fresh_next, memory_order_acquire);

	/* Objects past the cursor were never touched: leave their pages. */
	for (uint32_t i = 0; i < used; i++) {
		struct mr_desc *chunk = atomic_load_explicit(
			&pool_chunks[i / POOL_CHUNK], memory_order_acquire);

		if (!chunk) {
			i = (i / POOL_CHUNK + 1) * POOL_CHUNK - 1;
			continue;
		}
		if (atomic_load_explicit(&chunk[i % POOL_CHUNK].refs,
					 memory_order_acquire))
			fn(&chunk[i % POOL_CHUNK], arg);
	}
}

uint32_t mr_desc_live_count(void)
{
	return atomic_load_explicit(&live_count, memory_order_relaxed);
}

bool mr_desc_budget_take(size_t len, uint32_t count_cap, uint64_t byte_cap)
{
	uint32_t count = atomic_fetch_add(&mapped_count, 1);
	uint64_t bytes = atomic_fetch_add(&mapped_bytes, len);

	if (count < count_cap && (!byte_cap || bytes + len <= byte_cap))
		return true;
	mr_desc_budget_return(len);
	return false;
}

uint64_t mr_desc_budget_bytes(void)
{
	return atomic_load(&mapped_bytes);
}

void mr_desc_budget_return(size_t len)
{
	atomic_fetch_sub(&mapped_count, 1);
	atomic_fetch_sub(&mapped_bytes, len);
}
