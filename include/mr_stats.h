/*
 * Counters and the report.
 *
 * The hot path only does relaxed atomic additions; the report is formatted
 * once, at exit, into a buffer and written with write(2).
 */
#ifndef MR_STATS_H
#define MR_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/single_threaded.h>
#include <sys/types.h>

#include "mmapread.h"
#include "mr_trace.h"

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
	MR_C_SYS_READLINK,
	MR_C_SYS_OTHER,         /* getrlimit, getpid, sched_yield */
	MR_C_VERIFY_CHECKED,
	MR_C_VERIFY_MISMATCHES,
	MR_C_STDIO_READS,
	MR_C_STDIO_REFILLS,
	MR_C_COUNT
};

/*
 * Served calls are counted per description (struct mr_file_counters in
 * struct mr_desc), so threads reading different files never share a
 * counter; a description's counts are folded into the per-file table and
 * the totals above when it is recycled, and at the report.
 */
enum mr_served_kind {
	MR_SERVED_READ,
	MR_SERVED_PREAD,
	MR_SERVED_READV,
	MR_SERVED_LSEEK,
	MR_SERVED_KINDS
};

/* Request sizes: 1-63, 64-511, 512-4095, 4096-65535, 65536 and more. */
#define MR_SIZE_BUCKETS 5

struct mr_file_counters {
	_Atomic uint64_t served[MR_SERVED_KINDS];
	_Atomic uint64_t bytes;
	_Atomic uint64_t sizes[MR_SIZE_BUCKETS];
};

/* Where a mapped file's counts go: its identity and a name to show. */
#define MR_FILE_NAME_MAX 4096
struct mr_file_id {
	dev_t dev;
	ino_t ino;
	char path[MR_FILE_NAME_MAX];
};

static inline unsigned int mr_size_bucket(size_t n)
{
	return n < 64 ? 0 : n < 512 ? 1 : n < 4096 ? 2 : n < 65536 ? 3 : 4;
}

/*
 * A relaxed increment, without the locked instruction while the process
 * has a single thread (one add instruction is atomic against this thread's
 * signal handlers, see mr_atomic.h); single: __libc_single_threaded, read
 * once by a caller that has it already.
 */
static inline void mr_bump_fast(_Atomic uint64_t *counter, uint64_t n,
				bool single)
{
	if (single)
		__asm__ volatile("addq %1, %0" : "+m"(*counter) : "er"(n));
	else
		atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline void mr_bump(_Atomic uint64_t *counter, uint64_t n)
{
	mr_bump_fast(counter, n, __libc_single_threaded);
}

static inline void mr_count_served(struct mr_file_counters *c,
				   enum mr_served_kind kind, size_t bytes)
{
	mr_bump(&c->served[kind], 1);
	if (kind == MR_SERVED_LSEEK)
		return;
	if (mr_trace_wants(MR_TRACE_READ))
		mr_trace_record(MR_TRACE_READ, 0);
	mr_bump(&c->bytes, bytes);
	mr_bump(&c->sizes[mr_size_bucket(bytes)], 1);
}

/*
 * Move a description's counts into the file table and the totals (its
 * counters restart at zero); opened: count this as one more open.
 */
void mr_stats_fold(const struct mr_file_id *id, struct mr_file_counters *c,
		   bool opened);

/* How a process image ends, as the report says. */
enum mr_ended_by { MR_ENDED_EXIT, MR_ENDED_EXEC, MR_ENDED__EXIT };

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
	if (mr_trace_wants(MR_TRACE_FALLBACK))
		mr_trace_record(MR_TRACE_FALLBACK, (int)reason);
}

/* A short name for a fallback reason, or NULL when out of range. */
const char *mr_stats_fallback_name(int reason);

/* What a fallback reason means, for the text report; NULL out of range. */
const char *mr_stats_fallback_text(int reason);

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

/* Note where the page-fault counts start (at load, and in a fork child). */
void mr_stats_note_start(void);

/* In a fork child: its report counts only what it does itself. */
void mr_stats_restart_in_child(void);

/* After an exec that failed, whose report was written: count anew. */
void mr_stats_restart_after_failed_exec(void);

/* Write the report once, if MMAPREAD_STATS or MMAPREAD_STATS_FILE asked. */
void mr_stats_report(enum mr_ended_by how);
void mr_stats_report_at_exit(void);

#endif
