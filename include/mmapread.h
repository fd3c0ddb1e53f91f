/*
 * mmapread — serve read()s of regular files from mmap, transparently.
 *
 * Loaded with LD_PRELOAD (see the mmapread(1) launcher); this header is the
 * only API a program may call on purpose, to read the statistics live.
 *
 * Environment variables: MMAPREAD_DISABLE, MMAPREAD_STATS, MMAPREAD_STATS_FILE,
 * MMAPREAD_STATS_FORMAT, MMAPREAD_TOP, MMAPREAD_VERIFY, MMAPREAD_MAX_SIZE,
 * MMAPREAD_MIN_SIZE, MMAPREAD_INCLUDE, MMAPREAD_EXCLUDE, MMAPREAD_MAP_AFTER,
 * MMAPREAD_STDIO, MMAPREAD_PRINT_CONFIG (README.md and mmapread(1) say what each takes;
 * MMAPREAD_PRINT_CONFIG=1 lists them with their values). Each bad value
 * prints one line naming the variable, and the default is kept.
 */
#ifndef MMAPREAD_H
#define MMAPREAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Why a file, or one read of it, went to the kernel instead of a mapping. */
enum mmapread_fallback {
	MMAPREAD_FB_ACCESS_MODE,   /* opened write-only or O_PATH */
	MMAPREAD_FB_O_DIRECT,      /* O_DIRECT at open or through F_SETFL */
	MMAPREAD_FB_NOT_REGULAR,   /* pipe, socket, tty, device, directory */
	MMAPREAD_FB_PSEUDO_FS,     /* /proc, /sys and other synthetic files */
	MMAPREAD_FB_EMPTY,         /* size 0: empty or a pseudo file (/proc) */
	MMAPREAD_FB_WONT_PAY,      /* too little left to read for a mapping */
	MMAPREAD_FB_READ_AT_ONCE,  /* the first read reached end of file */
	MMAPREAD_FB_TOO_LARGE,     /* above the size ceiling */
	MMAPREAD_FB_FSTAT_FAILED,
	MMAPREAD_FB_MMAP_FAILED,   /* e.g. a filesystem without mmap */
	MMAPREAD_FB_TRUNCATED,     /* file shrank under the mapping */
	MMAPREAD_FB_PAST_MAPPING,  /* a read at or past the mapped end (growth) */
	MMAPREAD_FB_UNUSUAL_CALL,  /* flags, huge counts: the kernel decides */
	MMAPREAD_FB_BAD_BUFFER,    /* the program's buffer faulted: EFAULT path */
	MMAPREAD_FB_SIGNALS_BLOCKED, /* thread blocks SIGBUS/SIGSEGV */
	MMAPREAD_FB_KERNEL_USE,    /* the kernel took over the offset (fdopen…) */
	MMAPREAD_FB_SHARED,        /* shared with a child or a new image */
	MMAPREAD_FB_STDIN_STDIO,   /* fd 0 with stdin's FILE already reading */
	MMAPREAD_FB_BUDGET,        /* mapping budget spent (count, RLIMIT_AS) */
	MMAPREAD_FB_INTERRUPTED,   /* a signal handler met the decision */
	MMAPREAD_FB_TABLE_FULL,    /* no memory for the fd table */
	MMAPREAD_FB_EXCLUDED,      /* MMAPREAD_INCLUDE/MMAPREAD_EXCLUDE path rules */
	MMAPREAD_FB_TOO_SMALL,     /* below MMAPREAD_MIN_SIZE */
	MMAPREAD_FB_STDIO_CALL,    /* a stdio call mmapread does not serve */
	MMAPREAD_FB_COUNT
};

struct mmapread_stats {
	uint64_t reads_served;    /* read() answered from a mapping */
	uint64_t preads_served;   /* pread()/pread64() */
	uint64_t readvs_served;   /* readv()/preadv*() */
	uint64_t lseeks_served;   /* lseek() answered in user space */
	uint64_t syscalls_saved;  /* the sum of the four above */
	uint64_t syscalls_added;  /* mmap, munmap, fstat, lseek, sigaction… */
	uint64_t bytes_served;
	uint64_t files_mapped;
	uint64_t bytes_mapped;
	uint64_t fallbacks[MMAPREAD_FB_COUNT];
	/* MMAPREAD_STDIO: fgets/getline/fread/getc... calls on served
	 * streams, and their buffer refills served from a mapping (each one
	 * a read() system call saved, also counted in reads_served). */
	uint64_t stdio_reads;
	uint64_t stdio_refills;
};

/*
 * Copy the counters as they stand now into *ret_stats. Returns 0, or -1 when
 * ret_stats is NULL. Callable at any time, from any thread.
 */
int mmapread_get_stats(struct mmapread_stats *ret_stats);

/* A short lower-case name for a fallback reason, or NULL when out of range. */
const char *mmapread_fallback_name(int reason);

#ifdef __cplusplus
}
#endif

#endif
