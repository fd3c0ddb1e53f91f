/*
 * Counters and the report.
 *
 * The hot path only does relaxed atomic additions; the report is formatted
 * once, at exit, into a buffer and written with write(2).
 */
#ifndef MR_STATS_H
#define MR_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mmapread.h"

enum mr_counter {
	MR_C_READS_SERVED,
	MR_C_PREADS_SERVED,
	MR_C_READVS_SERVED,
	MR_C_LSEEKS_SERVED,
	MR_C_BYTES_SERVED,
	MR_C_FILES_MAPPED,
	MR_C_BYTES_MAPPED,
	/* System calls mmapread makes that the program would not have. */
	MR_C_SYS_MMAP,
	MR_C_SYS_MUNMAP,
	MR_C_SYS_FSTAT,
	MR_C_SYS_LSEEK,
	MR_C_SYS_SIGACTION,
	MR_C_COUNT
};

extern _Atomic uint64_t mr_counters[MR_C_COUNT];
extern _Atomic uint64_t mr_fallback_counters[MMAPREAD_FB_COUNT];

static inline void mr_count(enum mr_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&mr_counters[c], n, memory_order_relaxed);
}

static inline void mr_count_fallback(enum mmapread_fallback reason)
{
	atomic_fetch_add_explicit(&mr_fallback_counters[reason], 1,
				  memory_order_relaxed);
}

/* A short name for a fallback reason, or NULL when out of range. */
const char *mr_stats_fallback_name(int reason);

/* The counters as the public struct. */
void mr_stats_snapshot(struct mmapread_stats *ret_stats);

/*
 * Format the report for snapshot s into buf (always NUL-terminated);
 * added_detail is the line under "syscalls added" that breaks it down.
 * Returns the length it needed, like snprintf.
 */
size_t mr_stats_format(char *buf, size_t cap, const struct mmapread_stats *s,
		       const char *program, long pid, const char *added_detail);

/* Remember where stderr points, so the report never lands elsewhere. */
void mr_stats_note_stderr(void);

/* In a fork child: its report counts only what it does itself. */
void mr_stats_restart_in_child(void);

/* Write the report to stderr once, if MMAPREAD_STATS asked for it. */
void mr_stats_report_at_exit(void);

#endif
