/*
 * stdio streams served through mmapread's read path (MMAPREAD_STDIO).
 *
 * glibc refills a FILE's buffer with an internal read() that no preload
 * sees. A served stream is a read-only FILE that the program opened with
 * fopen/fopen64/freopen/fdopen on an fd the table tracks: every exported
 * stdio function that could refill it runs in stdio.c instead, shaped like
 * glibc 2.36's libio, its refills going through mmapread's read() (served
 * from the mapping once the policy maps the file). The FILE keeps its own
 * heap buffer, so its bytes (a snapshot per refill, as natively), buffer
 * boundaries, ftell() and the fd's offset are glibc's own.
 *
 * The description's offset may then be ahead of the kernel's, which
 * glibc's internal lseek() and read() would use: calls that make them are
 * bracketed (the kernel's offset brought up to date first, and the result
 * adopted after), and calls stdio.c does not reimplement (scanf, wide
 * characters, getpwent...) hand the stream back to libc for good
 * ("surrender", counted as the stdio_call fallback).
 *
 * Streams on fds >= MR_STDIO_FDS, and stdin, stdout and stderr, are never
 * served.
 */
#ifndef MR_STDIO_H
#define MR_STDIO_H

#include <emmintrin.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mr_stats.h"

#define MR_STDIO_FDS 1024

/* The served stream of each fd, or NULL. */
extern FILE *_Atomic mr_stdio_streams[MR_STDIO_FDS]
	__attribute__((visibility("hidden")));

static inline bool mr_stdio_served(FILE *fp)
{
	int fd = fp->_fileno;

	return (unsigned int)fd < MR_STDIO_FDS &&
	       __atomic_load_n(&mr_stdio_streams[fd], __ATOMIC_ACQUIRE) == fp;
}

/* ---- streams coming and going ------------------------------------------ */

/* Read before a call that opens a stream (see track_new_fd in core.c). */
uint64_t mr_stdio_epoch(void);

/*
 * fopen/fopen64/freopen returned fp on a file libc opened at path: serve
 * it if mode reads only and MMAPREAD_STDIO is on; otherwise forget
 * whatever the table held for its fd number.
 */
void mr_stdio_opened(FILE *fp, const char *path, const char *mode,
		     uint64_t epoch);

/*
 * fdopen(fd, mode): true when the stream it is about to make will be
 * served (the fd stays tracked); false when libc takes the fd over
 * (mr_give_to_libc). mr_stdio_fdopened() then registers the stream.
 */
bool mr_stdio_fdopen_keeps(int fd, const char *mode);
void mr_stdio_fdopened(FILE *fp, int fd);

/* fclose(fp) or freopen(..., fp) is about to close fp's fd inside libc. */
void mr_stdio_before_close(FILE *fp);
/* fcloseall() is about to close every stream. */
void mr_stdio_before_closeall(void);

/* Hand fp to libc for good (a call stdio.c does not reimplement). */
void mr_stdio_surrender(FILE *fp);
/* At exit, before libc's own cleanup seeks every read stream back over
 * its unread bytes, relative to the kernel's offset (not counted). */
void mr_stdio_surrender_all(void);

/* ---- the readers (fp served; lock: take the FILE's lock as libc does) -- */

int mr_stdio_getc(FILE *fp, bool lock);
int mr_stdio_uflow(FILE *fp);
int mr_stdio_underflow(FILE *fp);
/* chk_size: __fgets_chk's buffer size, or SIZE_MAX for plain fgets. */
char *mr_stdio_fgets(char *buf, int n, FILE *fp, bool lock, size_t chk_size);
ssize_t mr_stdio_getdelim(char **lineptr, size_t *n, int delim, FILE *fp);
size_t mr_stdio_fread(void *buf, size_t size, size_t count, FILE *fp,
		      bool lock);

/* libio.h: the flag bits the readers here and in stdio.c share. */
#define MR_IO_ERR_SEEN 0x0020
#define MR_IO_USER_LOCK 0x8000
#define MR_IO_FLAGS2_NEED_LOCK 128

/*
 * Whether libc would read fp without its lock: until a second thread
 * exists glibc locks nothing (_IO_enable_locks marks every stream when one
 * is created), and never when the program locks (__fsetlocking). The flag
 * word is read before any lock, as libc reads it (stdio.c's flags_of()).
 */
static inline bool mr_stdio_lock_free(const FILE *fp)
{
	return (__atomic_load_n(&fp->_flags, __ATOMIC_RELAXED) &
		MR_IO_USER_LOCK) ||
	       !(fp->_flags2 & MR_IO_FLAGS2_NEED_LOCK);
}

/* One more stdio read or refill in the report. */
static inline void mr_stdio_count(enum mr_counter c)
{
	mr_bump_fast(&mr_counters[c], 1, __libc_single_threaded);
}

/* The longest line the inline reader below takes; longer ones are
 * copied faster by memcpy, in the full version. */
#define MR_STDIO_INLINE_LINE 256

/*
 * The first delim in [p, end), or NULL when there is none or fewer than 16
 * bytes are left to look at. Loads stay inside the range.
 */
static inline char *mr_stdio_find(char *p, const char *end, int delim)
{
	__m128i want = _mm_set1_epi8((char)delim);

	while (end - p >= 16) {
		__m128i got = _mm_loadu_si128((const __m128i *)p);
		unsigned int hits =
			(unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(got, want));

		if (hits)
			return p + __builtin_ctz(hits);
		p += 16;
	}
	return NULL;
}

/*
 * n > 0 bytes, exactly (a program may look past the NUL that ends its
 * line): the last piece of each size overlaps the one before.
 */
static inline void mr_stdio_copy(char *dst, const char *src, size_t n)
{
	size_t done;
	uint64_t lo8, hi8;
	uint32_t lo4, hi4;

	if (n >= 16) {
		for (done = 0; done + 16 < n; done += 16)
			_mm_storeu_si128(
				(__m128i *)(dst + done),
				_mm_loadu_si128((const __m128i *)(src + done)));
		_mm_storeu_si128(
			(__m128i *)(dst + n - 16),
			_mm_loadu_si128((const __m128i *)(src + n - 16)));
	} else if (n >= 8) {
		memcpy(&lo8, src, 8);
		memcpy(&hi8, src + n - 8, 8);
		memcpy(dst, &lo8, 8);
		memcpy(dst + n - 8, &hi8, 8);
	} else if (n >= 4) {
		memcpy(&lo4, src, 4);
		memcpy(&hi4, src + n - 4, 4);
		memcpy(dst, &lo4, 4);
		memcpy(dst + n - 4, &hi4, 4);
	} else {
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	}
}

/*
 * mr_stdio_getdelim() with its common case inline in the exported
 * getdelim/getline: a line of up to 256 bytes whole in the buffer, room
 * for it in *lineptr, no lock to take (no second thread, or the program
 * locks). A line loop spends most of its time here, and calls (to the
 * full version, memchr and memcpy) and the registers they make it save
 * cost it more than the refills mmapread saves: a line is typically 50
 * bytes, one refill per 80 lines. Leaves the stream, *lineptr and *n as
 * the full version does; any other case goes there.
 */
static inline __attribute__((always_inline)) ssize_t
mr_stdio_getdelim_inline(char **lineptr, size_t *n, int delim, FILE *fp)
{
	char *next, *found, *end;
	size_t len;

	/* The buffer only once it is known that no lock guards it. */
	if (!lineptr || !n || !*lineptr || !mr_stdio_lock_free(fp) ||
	    (__atomic_load_n(&fp->_flags, __ATOMIC_RELAXED) & MR_IO_ERR_SEEN))
		return mr_stdio_getdelim(lineptr, n, delim, fp);
	next = fp->_IO_read_ptr;
	end = fp->_IO_read_end;
	if (end - next > MR_STDIO_INLINE_LINE)
		end = next + MR_STDIO_INLINE_LINE;
	if (!(found = mr_stdio_find(next, end, delim)) ||
	    (len = (size_t)(found - next) + 1) >= *n)
		return mr_stdio_getdelim(lineptr, n, delim, fp);
	mr_stdio_count(MR_C_STDIO_READS);
	fp->_IO_read_ptr = found + 1;
	mr_stdio_copy(*lineptr, next, len);
	(*lineptr)[len] = '\0';
	return (ssize_t)len;
}

/* ---- calls libc makes, with the kernel's offset made right ------------- */

/*
 * Each *_begin() takes the FILE's lock as libc will, and
 * mr_stdio_bracket_end() (ok: the call succeeded) releases it.
 * - ftell/ftello/fgetpos: when the stream caches no offset, libc asks the
 *   kernel's, so the description's is lent as the cached one (and taken
 *   back after).
 * - fseek/fseeko/fsetpos/rewind (whence: SEEK_SET for the absolute ones):
 *   libc seeks the kernel's offset itself; the description adopts where
 *   it left it.
 * - fflush and the setvbuf family seek the kernel back over unread
 *   buffered bytes, relative to where the kernel is: it is brought up to
 *   date first, and the description adopts the result.
 */
struct mr_stdio_bracket {
	FILE *fp;
	bool locked;
	bool lent;
	bool synced;
};
void mr_stdio_tell_begin(FILE *fp, struct mr_stdio_bracket *b);
void mr_stdio_seek_begin(FILE *fp, int whence, struct mr_stdio_bracket *b);
void mr_stdio_sync_begin(FILE *fp, struct mr_stdio_bracket *b);
void mr_stdio_bracket_end(struct mr_stdio_bracket *b, bool ok);

#endif
