/*
 * The fd table: fd number -> struct mr_desc *.
 *
 * A radix tree of three levels (11 + 10 + 10 bits, every non-negative int).
 * Levels are allocated on first use with anonymous mmap and installed with a
 * compare-and-swap, never freed, so memory follows the fds actually used,
 * never RLIMIT_NOFILE.
 *
 * Locking rule: there is no lock. Slots are atomic pointers; lookups are
 * plain acquire loads plus a reference count on the description, so the read
 * path never waits for open/close in other threads, and every function here
 * is async-signal-safe.
 */
#ifndef MR_FDTABLE_H
#define MR_FDTABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mr_desc;

/*
 * The first 1024 slots are a static array, the radix tree's first leaf:
 * the hot path finds the fds programs actually read with one load.
 */
#define MR_FDTABLE_DIRECT 1024u
extern struct mr_desc *_Atomic mr_fdtable_direct[MR_FDTABLE_DIRECT];
extern __thread pid_t mr_fdtable_vfork_parent;

/*
 * For the hot path: whether fd's slot is a direct one (below
 * MR_FDTABLE_DIRECT) in this process's table; then the slot,
 * mr_fdtable_direct[fd], says at once whether fd is tracked (no reference
 * taken: the caller takes one and checks the slot again).
 */
static inline bool mr_fdtable_direct_ok(int fd)
{
	return (unsigned int)fd < MR_FDTABLE_DIRECT &&
	       !__builtin_expect(mr_fdtable_vfork_parent != 0, 0);
}

/* The description behind fd with a reference taken, or NULL. */
struct mr_desc *mr_fdtable_acquire(int fd);

/* Whether fd's slot points at desc right now (no reference taken). */
bool mr_fdtable_holds(int fd, const struct mr_desc *desc);

/*
 * Point fd at desc (taking a new reference for the slot) and drop whatever
 * the slot held before. Returns false only when memory for the table could
 * not be had; then fd stays untracked.
 */
bool mr_fdtable_install(int fd, struct mr_desc *desc);

/* Empty fd's slot, dropping its reference. */
void mr_fdtable_forget(int fd);

/* Empty fd's slot if it still points at desc (dropping the slot's
 * reference): true if it did. */
bool mr_fdtable_forget_if(int fd, struct mr_desc *desc);

/* Empty every slot in [first, last]. */
void mr_fdtable_forget_range(unsigned int first, unsigned int last);

/* Call fn for every occupied slot, in fd order (for syncing before fork). */
void mr_fdtable_for_each(void (*fn)(int fd, struct mr_desc *desc, void *arg),
			 void *arg);

/*
 * The calling thread is about to vfork: until it resumes, its child (which
 * shares this memory) sees an empty table and changes nothing in it.
 */
void mr_fdtable_before_vfork(void);

/* Highest fd + 1 that the table can hold. */
#define MR_FDTABLE_LIMIT (1u << 31)

#endif
