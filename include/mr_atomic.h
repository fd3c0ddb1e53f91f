/*
 * Read-modify-writes that drop the lock prefix while the process has one
 * thread.
 *
 * mmapread's shared words (reference counts, the offset, the fd table's
 * slots, the pool's free list) must be atomic against other threads and
 * against signal handlers, which may run at any instruction and call
 * read() or close() themselves. With a single thread, the handlers are the
 * only other code that can run, and against them one instruction is atomic
 * already: cmpxchg, xadd and add without the lock prefix, which costs about
 * twenty cycles each and stalls the pipeline. single is
 * __libc_single_threaded, read once by the caller: glibc clears it before
 * the first thread (its own helper threads included) exists, and only this
 * thread can create one, so it cannot change in the middle of a call.
 */
#ifndef MR_ATOMIC_H
#define MR_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/single_threaded.h>

static inline bool mr_single(void)
{
	return __libc_single_threaded;
}

/* cmpxchg and xadd without the lock prefix; the width follows the
 * register operand's type. */
#define MR_CMPXCHG_SINGLE(p, expected, desired)                          \
	({                                                                \
		bool done_;                                               \
		__asm__ volatile("cmpxchg %3, %1"                         \
				 : "=@ccz"(done_), "+m"(*(p)),            \
				   "+a"(*(expected))                      \
				 : "r"(desired)                           \
				 : "memory");                             \
		done_;                                                    \
	})
#define MR_XADD_SINGLE(p, n)                                              \
	({                                                                \
		__typeof__(n) old_ = (n);                                 \
		__asm__ volatile("xadd %0, %1"                            \
				 : "+r"(old_), "+m"(*(p))                 \
				 :                                        \
				 : "memory");                             \
		old_;                                                     \
	})

/* Compare-and-swap: true if *p held *expected (then it holds desired);
 * otherwise *expected is what it held. */
static inline bool mr_cas_u64(_Atomic uint64_t *p, uint64_t *expected,
			      uint64_t desired, bool single)
{
	return single ? MR_CMPXCHG_SINGLE(p, expected, desired)
		      : atomic_compare_exchange_strong(p, expected, desired);
}

static inline bool mr_cas_u32(_Atomic uint32_t *p, uint32_t *expected,
			      uint32_t desired, bool single)
{
	return single ? MR_CMPXCHG_SINGLE(p, expected, desired)
		      : atomic_compare_exchange_strong(p, expected, desired);
}

static inline bool mr_cas_ptr(void *_Atomic *p, void **expected,
			      void *desired, bool single)
{
	return mr_cas_u64((_Atomic uint64_t *)p, (uint64_t *)expected,
			  (uint64_t)(uintptr_t)desired, single);
}

/* *p += n; returns the old value. */
static inline uint32_t mr_add_u32(_Atomic uint32_t *p, uint32_t n, bool single)
{
	return single ? MR_XADD_SINGLE(p, n) : atomic_fetch_add(p, n);
}

static inline uint64_t mr_add_u64(_Atomic uint64_t *p, uint64_t n, bool single)
{
	return single ? MR_XADD_SINGLE(p, n) : atomic_fetch_add(p, n);
}

/* Swap in desired; returns what *p held. */
static inline void *mr_xchg_ptr(void *_Atomic *p, void *desired, bool single)
{
	void *old;

	if (!single)
		return atomic_exchange(p, desired);
	old = atomic_load_explicit(p, memory_order_relaxed);
	while (!mr_cas_ptr(p, &old, desired, true))
		;
	return old;
}

#endif
