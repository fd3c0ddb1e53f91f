/*
 * The fd table (the locking rule is in mr_fdtable.h: there is no lock).
 */
#include "mr_fdtable.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mr_atomic.h"
#include "mr_desc.h"
#include "mr_section.h"
#include "mr_stats.h"

#define LEAF_BITS 10u
#define MID_BITS 10u
#define ROOT_BITS 11u
#define LEAF_SIZE (1u << LEAF_BITS)
#define MID_SIZE (1u << MID_BITS)
#define ROOT_SIZE (1u << ROOT_BITS)

struct fd_leaf {
	struct mr_desc *_Atomic slot[LEAF_SIZE];
};

struct fd_mid {
	struct fd_leaf *_Atomic leaf[MID_SIZE];
};

_Static_assert(MR_FDTABLE_DIRECT == LEAF_SIZE, "the direct slots are a leaf");
struct mr_desc *_Atomic mr_fdtable_direct[MR_FDTABLE_DIRECT] MR_LARGE_TABLE;
/*
 * The first mid level is static and its first leaf is the direct slots.
 * Neither is written into the table (see mid_of() and leaf_of()): pointers
 * there would need relocating at load, a page fault for every process.
 */
static struct fd_mid first_mid MR_LARGE_TABLE;
static struct fd_mid *_Atomic root[ROOT_SIZE] MR_LARGE_TABLE;

static unsigned int root_index(unsigned int fd)
{
	return fd >> (LEAF_BITS + MID_BITS);
}

static unsigned int mid_index(unsigned int fd)
{
	return (fd >> LEAF_BITS) & (MID_SIZE - 1);
}

static unsigned int leaf_index(unsigned int fd)
{
	return fd & (LEAF_SIZE - 1);
}

static struct fd_mid *mid_of(unsigned int ufd)
{
	if (root_index(ufd) == 0)
		return &first_mid;
	return atomic_load_explicit(&root[root_index(ufd)],
				    memory_order_acquire);
}

static struct fd_leaf *leaf_of(struct fd_mid *mid, unsigned int ufd)
{
	if (ufd < MR_FDTABLE_DIRECT)
		return (struct fd_leaf *)mr_fdtable_direct;
	return atomic_load_explicit(&mid->leaf[mid_index(ufd)],
				    memory_order_acquire);
}

/* A zeroed level; mmap rather than malloc keeps us signal-safe. */
static void *level_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	mr_count(MR_C_SYS_MMAP, 1);
	return p == MAP_FAILED ? NULL : p;
}

/* Install a fresh level in *where unless another thread was first. */
static void *level_get_or_add(void *_Atomic *where, size_t size)
{
	void *level = atomic_load_explicit(where, memory_order_acquire);
	void *fresh;

	if (level)
		return level;
	fresh = level_alloc(size);
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(where, &level, fresh,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	munmap(fresh, size);
	mr_count(MR_C_SYS_MUNMAP, 1);
	return level;
}

/* The slot for fd, or NULL when the levels are missing and !create. */
static struct mr_desc *_Atomic *slot_of(int fd, bool create)
{
	unsigned int ufd = (unsigned int)fd;
	struct fd_mid *mid;
	struct fd_leaf *leaf;

	if (fd < 0)
		return NULL;
	if (ufd < MR_FDTABLE_DIRECT)
		return &mr_fdtable_direct[ufd];
	mid = mid_of(ufd);
	if (!mid && create)
		mid = level_get_or_add((void *_Atomic *)&root[root_index(ufd)],
				       sizeof(*mid));
	if (!mid)
		return NULL;
	leaf = leaf_of(mid, ufd);
	if (!leaf && create)
		leaf = level_get_or_add(
			(void *_Atomic *)&mid->leaf[mid_index(ufd)],
			sizeof(*leaf));
	if (!leaf)
		return NULL;
	return &leaf->slot[leaf_index(ufd)];
}

/*
 * A vfork child runs in this memory, the table included, until it execs or
 * exits, and on the thread that called vfork. What it opens, dup2s or
 * closes is its own, so it must neither change the parent's table nor be
 * answered from it: the thread notes its pid before vfork, and the first
 * table call after that tells the child (another pid: the table is not
 * there for it) from the resumed parent (which clears the note).
 */
__thread pid_t mr_fdtable_vfork_parent
	__attribute__((tls_model("initial-exec")));

void mr_fdtable_before_vfork(void)
{
	mr_count(MR_C_SYS_OTHER, 1);
	mr_fdtable_vfork_parent = (pid_t)syscall(SYS_getpid);
}

static bool in_vfork_child(void)
{
	if (__builtin_expect(!mr_fdtable_vfork_parent, 1))
		return false;
	mr_count(MR_C_SYS_OTHER, 1);
	if ((pid_t)syscall(SYS_getpid) != mr_fdtable_vfork_parent)
		return true;
	mr_fdtable_vfork_parent = 0;
	return false;
}

struct mr_desc *mr_fdtable_acquire(int fd)
{
	struct mr_desc *_Atomic *slot;
	struct mr_desc *desc;

	if (in_vfork_child())
		return NULL;
	slot = slot_of(fd, false);
	if (!slot)
		return NULL;
	for (;;) {
		desc = atomic_load_explicit(slot, memory_order_acquire);
		if (!desc)
			return NULL;
		if (mr_desc_tryget(desc)) {
			/* The object may have been recycled for another fd
			 * between the load and the reference. */
			if (atomic_load_explicit(slot, memory_order_acquire) ==
			    desc)
				return desc;
			mr_desc_put(desc);
		}
	}
}

bool mr_fdtable_holds(int fd, const struct mr_desc *desc)
{
	struct mr_desc *_Atomic *slot;

	if (in_vfork_child())
		return false;
	slot = slot_of(fd, false);
	return slot && atomic_load_explicit(slot, memory_order_acquire) == desc;
}

bool mr_fdtable_install(int fd, struct mr_desc *desc)
{
	struct mr_desc *_Atomic *slot;
	struct mr_desc *old;

	if (in_vfork_child())
		return true;
	slot = slot_of(fd, true);
	if (!slot)
		return false;
	mr_desc_get(desc);
	old = mr_xchg_ptr((void *_Atomic *)slot, desc, mr_single());
	if (old)
		mr_desc_put(old);
	return true;
}

void mr_fdtable_forget(int fd)
{
	struct mr_desc *_Atomic *slot;
	struct mr_desc *old;

	if (in_vfork_child())
		return;
	slot = slot_of(fd, false);
	if (!slot || !atomic_load_explicit(slot, memory_order_relaxed))
		return;
	old = mr_xchg_ptr((void *_Atomic *)slot, NULL, mr_single());
	if (old)
		mr_desc_put(old);
}

bool mr_fdtable_forget_if(int fd, struct mr_desc *desc)
{
	struct mr_desc *_Atomic *slot;
	struct mr_desc *expected = desc;

	if (in_vfork_child())
		return false;
	slot = slot_of(fd, false);
	if (!slot || !mr_cas_ptr((void *_Atomic *)slot, (void **)&expected,
				 NULL, mr_single()))
		return false;
	mr_desc_put(desc);
	return true;
}

/*
 * Visit the slots in [first, last] that exist, skipping absent levels
 * whole; fn gets the slot and its fd.
 */
static void walk(unsigned int first, unsigned int last,
		 void (*fn)(struct mr_desc *_Atomic *slot, int fd, void *arg),
		 void *arg)
{
	uint64_t fd = first;

	if (last >= MR_FDTABLE_LIMIT)
		last = MR_FDTABLE_LIMIT - 1;
	while (fd <= last) {
		unsigned int ufd = (unsigned int)fd;
		struct fd_mid *mid = mid_of(ufd);
		struct fd_leaf *leaf;

		if (!mid) {
			fd = ((fd >> (LEAF_BITS + MID_BITS)) + 1)
			     << (LEAF_BITS + MID_BITS);
			continue;
		}
		leaf = leaf_of(mid, ufd);
		if (!leaf) {
			fd = ((fd >> LEAF_BITS) + 1) << LEAF_BITS;
			continue;
		}
		fn(&leaf->slot[leaf_index(ufd)], (int)ufd, arg);
		fd++;
	}
}

static void forget_slot(struct mr_desc *_Atomic *slot, int fd, void *arg)
{
	struct mr_desc *old;

	(void)fd;
	(void)arg;
	if (!atomic_load_explicit(slot, memory_order_relaxed))
		return;
	old = atomic_exchange_explicit(slot, NULL, memory_order_acq_rel);
	if (old)
		mr_desc_put(old);
}

void mr_fdtable_forget_range(unsigned int first, unsigned int last)
{
	if (first > last || in_vfork_child())
		return;
	walk(first, last, forget_slot, NULL);
}

struct visit {
	void (*fn)(int fd, struct mr_desc *desc, void *arg);
	void *arg;
};

static void visit_slot(struct mr_desc *_Atomic *slot, int fd, void *arg)
{
	const struct visit *visit = arg;
	struct mr_desc *desc;

	if (!atomic_load_explicit(slot, memory_order_relaxed))
		return;
	desc = mr_fdtable_acquire(fd);
	if (!desc)
		return;
	visit->fn(fd, desc, visit->arg);
	mr_desc_put(desc);
}

void mr_fdtable_for_each(void (*fn)(int fd, struct mr_desc *desc, void *arg),
			 void *arg)
{
	struct visit visit = { fn, arg };

	if (in_vfork_child())
		return;
	walk(0, MR_FDTABLE_LIMIT - 1, visit_slot, &visit);
}
