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

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define MR_STDIO_FDS 1024

/* The served stream of each fd, or NULL. */
extern FILE *_Atomic mr_stdio_streams[MR_STDIO_FDS];

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
