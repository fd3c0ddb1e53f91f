/*
 * When a mapping pays, and the offset arithmetic of served calls.
 *
 * Pure functions, so that each threshold has a unit test. The numbers come
 * from the cost model in README.md ("How it works", the policy): mapping,
 * faulting and unmapping a file costs about as much as 48 small read()
 * calls here, so a file is mapped only once the program has shown a
 * pattern of small requests and enough of the file remains to repay it.
 */
#ifndef MR_POLICY_H
#define MR_POLICY_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmapread.h"

/*
 * Requests above this gain next to nothing from a mapping, or lose
 * (scripts/bench, CPU time, fresh / readahead page-cache layout: 16 KiB
 * 1.02x / 1.15x, 64 KiB 0.94x / 1.03x, whole 16 MiB files read 64 KiB at a
 * time 0.85x / 0.88x): they do not count towards mapping a file.
 */
#define MR_POLICY_SMALL_REQUEST (16u * 1024)
/*
 * How many small requests a description shows before its file is examined
 * is MMAPREAD_MAP_AFTER (default 48, see mr_config.h): mapping, faulting in
 * and unmapping a file costs about 7.5 us here, and a small read() system
 * call about 154 ns, so after 48 reads a program has spent what a mapping
 * costs. That bounds the worst case (a program that stops reading right
 * after the mapping is made) at about twice the native cost, where mapping
 * early made a program that opens many files and reads each a few times
 * 6.7x slower.
 */

/*
 * A stdio stream's refills are each a read() system call of a whole buffer
 * (4 KiB, or 32 KiB for fread()s of md5sum's size) that a served stream
 * no longer makes at all, rather than one cheaper call: after this many
 * (or MMAPREAD_MAP_AFTER, if lower) its file is examined, whatever their
 * size.
 */
#define MR_POLICY_STDIO_MAP_AFTER 4u

/* Requests of the observed size that must remain for a mapping to pay. */
#define MR_POLICY_MIN_REQUESTS_LEFT 32u

/* The kernel moves at most this much in one read (2 GiB - 4 KiB). */
#define MR_MAX_RW_COUNT 0x7ffff000ul
/* Top of the x86-64 user address space with 4-level page tables. */
#define MR_USER_ADDR_END 0x00007ffffffff000ul

struct mr_file_facts {
	mode_t mode;             /* st_mode */
	int64_t size;            /* st_size */
	int64_t offset;          /* current offset of the description */
	uint64_t avg_request;    /* mean small request so far, > 0 */
	bool positional;         /* pread pattern: the whole file is in play */
	uint64_t max_size;       /* ceiling from the configuration, 0: none */
	uint64_t min_size;       /* floor from the configuration */
};

/* Whether a request of this size counts towards mapping the file. */
bool mr_policy_counts(size_t request);

/*
 * Map (true) or give the file back to the kernel for good (false, with the
 * reason in *ret_reason).
 */
bool mr_policy_should_map(const struct mr_file_facts *facts,
			  enum mmapread_fallback *ret_reason);

/*
 * Whether [buf, buf + count) is a range the kernel's access_ok() accepts.
 * Requests outside it are left to the kernel, which knows the right errno.
 */
static inline bool mr_user_range_ok(const void *buf, size_t count)
{
	uintptr_t start = (uintptr_t)buf;

	return count <= MR_USER_ADDR_END && start <= MR_USER_ADDR_END - count;
}

/* count as the kernel clamps it. */
static inline size_t mr_clamp_rw(size_t count)
{
	return count > MR_MAX_RW_COUNT ? MR_MAX_RW_COUNT : count;
}

/* Whether n bytes at pos lie wholly inside a mapping of map_len bytes. */
static inline bool mr_span_inside(int64_t pos, size_t n, size_t map_len)
{
	return pos >= 0 && (uint64_t)pos <= map_len &&
	       n <= map_len - (uint64_t)pos;
}

/*
 * Where lseek(off, whence) lands from cur, for the whences user space can
 * answer. 0 and *ret_pos; -EINVAL for a negative or overflowing result, as
 * the kernel says; -EOPNOTSUPP for a whence only the kernel can answer.
 */
static inline int mr_seek_target(int64_t cur, int64_t off, int whence,
				 int64_t *ret_pos)
{
	int64_t target;

	switch (whence) {
	case 0: /* SEEK_SET */
		target = off;
		break;
	case 1: /* SEEK_CUR */
		if (__builtin_add_overflow(cur, off, &target))
			return -EINVAL;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (target < 0)
		return -EINVAL;
	*ret_pos = target;
	return 0;
}

#endif
