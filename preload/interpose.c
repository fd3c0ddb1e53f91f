/*
 * The only file that defines libc names, and the only one that exports.
 *
 * Each wrapper forwards to the core (mr_core.h), which returns a result or
 * -errno; finish() turns that into libc's convention and puts back the
 * caller's errno on success, so no bookkeeping ever leaks an errno.
 *
 * Meson builds with -D_FILE_OFFSET_BITS=64, which makes glibc's headers
 * rename open to open64, pread to pread64 and so on: undone here, before
 * any header, so that every name below is defined exactly once as itself.
 * _FORTIFY_SOURCE likewise would turn these definitions into inline
 * checking wrappers.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mmapread.h"
#include "mr_core.h"
#include "mr_stats.h"

#define EXPORT __attribute__((visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));

static inline long finish(long ret, int saved_errno)
{
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	errno = saved_errno;
	return ret;
}

/* Evaluate a core call with the caller's errno kept for the success path. */
#define CORE(call)                                  \
	({                                          \
		int saved_errno_ = errno;           \
		finish((long)(call), saved_errno_); \
	})

/* open's mode is only there when O_CREAT or O_TMPFILE asks for it. */
#define OPEN_MODE(flags, last)                                     \
	({                                                         \
		mode_t mode_ = 0;                                  \
		if ((flags) & O_CREAT ||                           \
		    ((flags) & O_TMPFILE) == O_TMPFILE) {          \
			va_list ap_;                               \
			va_start(ap_, last);                       \
			mode_ = (mode_t)va_arg(ap_, int);          \
			va_end(ap_);                               \
		}                                                  \
		mode_;                                             \
	})

#define NEEDS_MODE(flags) \
	((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE)

EXPORT int open(const char *path, int flags, ...)
{
	return (int)CORE(mr_open(path, flags, OPEN_MODE(flags, flags)));
}

EXPORT int open64(const char *path, int flags, ...)
{
	return (int)CORE(mr_open(path, flags, OPEN_MODE(flags, flags)));
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	return (int)CORE(mr_openat(dirfd, path, flags, OPEN_MODE(flags, flags)));
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	return (int)CORE(mr_openat(dirfd, path, flags, OPEN_MODE(flags, flags)));
}

/* The _FORTIFY_SOURCE entry points: a call that needs a mode and cannot
 * have one is a bug glibc stops the program for; so do we. */
EXPORT int __open_2(const char *path, int flags)
{
	if (NEEDS_MODE(flags))
		__chk_fail();
	return (int)CORE(mr_open(path, flags, 0));
}

EXPORT int __open64_2(const char *path, int flags)
{
	if (NEEDS_MODE(flags))
		__chk_fail();
	return (int)CORE(mr_open(path, flags, 0));
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (NEEDS_MODE(flags))
		__chk_fail();
	return (int)CORE(mr_openat(dirfd, path, flags, 0));
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	if (NEEDS_MODE(flags))
		__chk_fail();
	return (int)CORE(mr_openat(dirfd, path, flags, 0));
}

EXPORT int creat(const char *path, mode_t mode)
{
	return (int)CORE(mr_open(path, O_CREAT | O_WRONLY | O_TRUNC, mode));
}

EXPORT int creat64(const char *path, mode_t mode)
{
	return (int)CORE(mr_open(path, O_CREAT | O_WRONLY | O_TRUNC, mode));
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	return CORE(mr_read(fd, buf, count));
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return CORE(mr_read(fd, buf, count));
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	return CORE(mr_pread(fd, buf, count, off));
}

EXPORT ssize_t pread64(int fd, void *buf, size_t count, off64_t off)
{
	return CORE(mr_pread(fd, buf, count, off));
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off,
			   size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return CORE(mr_pread(fd, buf, count, off));
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t off,
			     size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return CORE(mr_pread(fd, buf, count, off));
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	return CORE(mr_readv(fd, iov, iovcnt));
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return CORE(mr_preadv(fd, iov, iovcnt, off));
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt,
			off64_t off)
{
	return CORE(mr_preadv(fd, iov, iovcnt, off));
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		       int flags)
{
	return CORE(mr_preadv2(fd, iov, iovcnt, off, flags));
}

EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt,
			  off64_t off, int flags)
{
	return CORE(mr_preadv2(fd, iov, iovcnt, off, flags));
}

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	return CORE(mr_lseek(fd, off, whence));
}

EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	return CORE(mr_lseek(fd, off, whence));
}

EXPORT int close(int fd)
{
	return (int)CORE(mr_close(fd));
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)CORE(mr_close_range(first, last, flags));
}

EXPORT void closefrom(int lowfd)
{
	int saved_errno = errno;

	mr_closefrom(lowfd);
	errno = saved_errno;
}

EXPORT int dup(int fd)
{
	return (int)CORE(mr_dup(fd));
}

EXPORT int dup2(int oldfd, int newfd)
{
	return (int)CORE(mr_dup2(oldfd, newfd));
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return (int)CORE(mr_dup3(oldfd, newfd, flags));
}

/* Every fcntl argument fits a pointer-sized slot, as glibc reads it too. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return (int)CORE(mr_fcntl(fd, cmd, arg));
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return (int)CORE(mr_fcntl(fd, cmd, arg));
}

EXPORT int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *oldact)
{
	return (int)CORE(mr_sigaction(sig, act, oldact));
}

EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
	int saved_errno = errno, err = 0;
	__sighandler_t ret = mr_signal(sig, handler, &err);

	errno = ret == SIG_ERR ? err : saved_errno;
	return ret;
}

/* The public API of mmapread.h. */
EXPORT int mmapread_get_stats(struct mmapread_stats *ret_stats)
{
	if (!ret_stats)
		return -1;
	mr_stats_snapshot(ret_stats);
	return 0;
}

EXPORT const char *mmapread_fallback_name(int reason)
{
	return mr_stats_fallback_name(reason);
}
