/*
 * Open file descriptions as mmapread tracks them.
 *
 * One struct mr_desc stands for one kernel open file description: every fd
 * made from it by dup, dup2, dup3 or F_DUPFD points at the same object, so
 * they share one offset exactly as the kernel's fds do.
 *
 * Lifetime: refs counts the fd-table slots that point here plus the calls in
 * flight. Whoever drops the last reference unmaps the file and returns the
 * object to a pool. Pool memory is never given back to the system, so a
 * reader may load a slot and try to take a reference even while another
 * thread closes the fd: mr_desc_tryget() refuses a dead object, and the
 * fd table re-checks the slot afterwards.
 */
#ifndef MR_DESC_H
#define MR_DESC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mr_atomic.h"
#include "mr_stats.h"

enum mr_state {
	/* Kernel owns the offset; reads pass through while the policy
	 * watches the pattern. */
	MR_WATCHING,
	/* The file is mapped; the offset lives in user space and the
	 * kernel's copy is stale until synced. */
	MR_MAPPED,
	/* Kernel owns the offset for good; reads pass through. */
	MR_PASSTHROUGH,
	/* Between MAPPED and PASSTHROUGH: the offset is frozen and being
	 * written back; calls wait for it before going to the kernel. */
	MR_HANDING_BACK,
};

/*
 * The offset word: the offset in the low 47 bits (mapped descriptions only
 * ever hold offsets below 2^47, the size of the address space any mapping
 * lives in; larger ones are handed to the kernel), above it a 16-bit seek
 * generation that every lseek to an absolute position bumps (a signal
 * flood made 8 bits wrap around during one read's recovery), and MR_OFFSET_FROZEN once the offset is being handed back, so
 * that no reservation can slip in after it was read for the write-back.
 * Reads add to the word and relative seeks move it, keeping the
 * generation: a read that gives back part of its reservation subtracts it
 * only if no absolute seek came after (the seek's target then stands, as
 * when the kernel orders the read first).
 */
#define MR_OFFSET_FROZEN (1ull << 63)
#define MR_OFFSET_LIMIT (1ull << 47)
#define MR_OFFSET_GEN (0xffffull << 47)

/* The offset a word holds (the frozen bit kept: it fails every span). */
static inline uint64_t mr_offset_of(uint64_t word)
{
	return word & ~MR_OFFSET_GEN;
}

/* word's generation with another offset (a read, a relative seek). */
static inline uint64_t mr_offset_moved(uint64_t word, uint64_t offset)
{
	return (word & MR_OFFSET_GEN) | offset;
}

/* A new generation at offset (an absolute seek). */
static inline uint64_t mr_offset_reseek(uint64_t word, uint64_t offset)
{
	return ((word + MR_OFFSET_LIMIT) & MR_OFFSET_GEN) | offset;
}

struct mr_desc {
	_Atomic uint32_t refs;
	uint32_t pool_index;
	_Atomic uint64_t next_free;     /* pool free-list link */

	_Atomic int state;              /* enum mr_state */
	_Atomic int deciding;           /* one thread runs the policy */
	_Atomic uint32_t inflight;      /* calls moving the kernel offset */
	/* Handed back after being mapped, for a reason that leaves the
	 * mapping good for pread()s, which never touch the offset. */
	_Atomic bool positional_ok;
	int open_flags;

	/* MR_MAPPED only: valid from before state is published. */
	const unsigned char *map;
	size_t map_len;                 /* file size when mapped */
	_Atomic uint64_t offset;        /* the offset word, see above */

	/* MR_WATCHING: what the program has done so far. */
	_Atomic uint32_t watched_reads;
	_Atomic uint64_t watched_bytes;
	/* A stdio stream reads it (mr_stdio.h): its refills, of any size,
	 * count toward mapping, and sooner. */
	_Atomic bool stdio;

	/* What was served from the mapping, and for which file: set before
	 * the mapping is published, folded into the report's per-file table
	 * when the description is recycled. */
	struct mr_file_counters counters;
	bool file_known;
	struct mr_file_id file;
};

/* A fresh description with one reference, or NULL when memory is short. */
struct mr_desc *mr_desc_new(int open_flags);

/* Take a reference unless the object is already dead. */
bool mr_desc_tryget(struct mr_desc *desc);

/* Take one more reference on a description the caller holds. */
void mr_desc_get(struct mr_desc *desc);

/* Drop a reference; the last one unmaps and recycles the object. */
void mr_desc_put(struct mr_desc *desc);

/* What mr_desc_put() does once the last reference is gone. */
void mr_desc_release(struct mr_desc *desc);

/*
 * tryget and put for the hot path, without the lock prefix while the
 * process has one thread (see mr_atomic.h); single: mr_single(), read once
 * by the caller.
 */
static inline bool mr_desc_tryget_fast(struct mr_desc *desc, bool single)
{
	uint32_t refs = atomic_load_explicit(&desc->refs, memory_order_acquire);

	/* A failed compare-and-swap left the count it found in refs. */
	while (refs)
		if (mr_cas_u32(&desc->refs, &refs, refs + 1, single))
			return true;
	return false;
}

static inline void mr_desc_put_fast(struct mr_desc *desc, bool single)
{
	if (__builtin_expect(mr_add_u32(&desc->refs, (uint32_t)-1, single) ==
				     1,
			     0))
		mr_desc_release(desc);
}

/* Move the offset word from expect to want: true if it held expect. */
static inline bool mr_offset_move(struct mr_desc *desc, uint64_t expect,
				  uint64_t want, bool single)
{
	return mr_cas_u64(&desc->offset, &expect, want, single);
}

/* Call fn for every description alive now (for the report's totals). */
void mr_desc_for_each_live(void (*fn)(struct mr_desc *desc, void *arg),
			   void *arg);

/* Objects in the pool that are alive now (for tests and leak checks). */
uint32_t mr_desc_live_count(void);

/*
 * Reserve room for a mapping of len bytes within the process-wide budget
 * (count_cap mappings, byte_cap bytes; 0: no byte cap). The reservation is
 * returned when the description holding the mapping is recycled.
 */
bool mr_desc_budget_take(size_t len, uint32_t count_cap, uint64_t byte_cap);
void mr_desc_budget_return(size_t len);

/* Bytes of the mappings counted in the budget now. */
uint64_t mr_desc_budget_bytes(void);

#endif
