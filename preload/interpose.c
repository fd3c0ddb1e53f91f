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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <mqueue.h>
#include <netdb.h>
#include <pty.h>
#include <utmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wordexp.h>

#include "mmapread.h"
#include "mr_core.h"
#include "mr_guard.h"
#include "mr_stats.h"
#include "mr_stdio.h"
#include "mr_trace.h"
#include "mr_unwind.h"

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

/*
 * The hot path answers served reads itself, errno untouched; it hands
 * every other call to these, before it changed anything.
 */
static ssize_t read_slow(int fd, void *buf, size_t count)
{
	return CORE(mr_read(fd, buf, count));
}

static ssize_t pread_slow(int fd, void *buf, size_t count, off_t off)
{
	return CORE(mr_pread(fd, buf, count, off));
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	return mr_read_fast(fd, buf, count, read_slow);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return mr_read_fast(fd, buf, count, read_slow);
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	return mr_pread_fast(fd, buf, count, off, pread_slow);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t count, off64_t off)
{
	return mr_pread_fast(fd, buf, count, off, pread_slow);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off,
			   size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return mr_pread_fast(fd, buf, count, off, pread_slow);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t off,
			     size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return mr_pread_fast(fd, buf, count, off, pread_slow);
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

/* ---- process boundaries: offsets go back to the kernel first ---------- */

#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "mr_process.h"
#include "mr_real.h"

/* Calls a real process function, or fails with ENOSYS if libc lacks it. */
#define REAL_CALL(fn, fail, ...)                              \
	({                                                                 \
		__typeof__(((struct mr_real *)0)->fn) fn_ =                \
			(__typeof__(fn_))mr_real_lazy(                     \
				offsetof(struct mr_real, fn));             \
		fn_ ? fn_(__VA_ARGS__) : (errno = ENOSYS, (fail));         \
	})

EXPORT pid_t fork(void)
{
	pid_t pid;

	mr_before_child();
	pid = REAL_CALL(fork, -1);
	if (pid == 0)
		mr_after_fork_in_child();
	else
		mr_after_child_in_parent();
	return pid;
}

EXPORT pid_t _Fork(void)
{
	pid_t pid;

	mr_before_child();
	pid = REAL_CALL(fork_underscore, -1);
	if (pid == 0)
		mr_after_fork_in_child();
	else
		mr_after_child_in_parent();
	return pid;
}

/* The report of a process that ends without its exit handlers. */
EXPORT void _exit(int status)
{
	void (*real_exit)(int) = mr_real_table()->exit_underscore;

	mr_before__exit();
	if (real_exit)
		real_exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	_exit(status);
}

/*
 * vfork's child runs on the parent's stack until it execs or exits, so a
 * wrapper may not have a frame of its own when the child returns: it
 * prepares in a normal call, then jumps to the real vfork, which returns
 * straight to our caller in both processes.
 */
void *mr_vfork_prepare(void);
void *mr_vfork_prepare(void)
{
	int saved_errno = errno;

	mr_before_vfork();
	errno = saved_errno;
	return (void *)mr_real_table()->vfork;
}

__asm__(".pushsection .text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	"	sub $8, %rsp\n"
	"	call mr_vfork_prepare\n"
	"	add $8, %rsp\n"
	"	jmp *%rax\n"
	".size vfork, .-vfork\n"
	".popsection\n");

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	int ret;

	mr_before_exec();
	ret = REAL_CALL(execve, -1, path, argv, envp);
	mr_after_failed_exec();
	return ret;
}

EXPORT int execv(const char *path, char *const argv[])
{
	int ret;

	mr_before_exec();
	ret = REAL_CALL(execv, -1, path, argv);
	mr_after_failed_exec();
	return ret;
}

EXPORT int execvp(const char *file, char *const argv[])
{
	int ret;

	mr_before_exec();
	ret = REAL_CALL(execvp, -1, file, argv);
	mr_after_failed_exec();
	return ret;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	int ret;

	mr_before_exec();
	ret = REAL_CALL(execvpe, -1, file, argv, envp);
	mr_after_failed_exec();
	return ret;
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	int ret;

	mr_before_exec();
	ret = REAL_CALL(fexecve, -1, fd, argv, envp);
	mr_after_failed_exec();
	return ret;
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[],
		    char *const envp[], int flags)
{
	int ret;

	mr_before_exec();
	ret = REAL_CALL(execveat, -1, dirfd, path, argv, envp, flags);
	mr_after_failed_exec();
	return ret;
}

/*
 * The execl family reaches execve inside libc, where no preload sees it:
 * gather the list and go through the vector forms above.
 */
#define GATHER_ARGS(first, ret_argv, want_envp, ret_envp)                        \
	do {                                                            \
		va_list ap_;                                            \
		size_t argc_ = 1;                                       \
		va_start(ap_, first);                                   \
		while (va_arg(ap_, char *))                             \
			argc_++;                                        \
		va_end(ap_);                                            \
		ret_argv = __builtin_alloca((argc_ + 1) * sizeof(char *)); \
		ret_argv[0] = (char *)(first);                          \
		va_start(ap_, first);                                   \
		for (size_t i_ = 1; i_ <= argc_; i_++)                  \
			ret_argv[i_] = va_arg(ap_, char *);             \
		if (want_envp)                                          \
			*(ret_envp) = va_arg(ap_, char **);             \
		va_end(ap_);                                            \
	} while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
	char **argv;

	GATHER_ARGS(arg, argv, false, (char ***)NULL);
	return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **argv;

	GATHER_ARGS(arg, argv, false, (char ***)NULL);
	return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char **argv, **envp;

	GATHER_ARGS(arg, argv, true, &envp);
	return execve(path, argv, envp);
}

EXPORT int posix_spawn(pid_t *pid, const char *path,
		       const posix_spawn_file_actions_t *actions,
		       const posix_spawnattr_t *attr, char *const argv[],
		       char *const envp[])
{
	int ret;

	mr_before_spawn();
	ret = REAL_CALL(posix_spawn, ENOSYS, pid, path, actions, attr, argv,
			envp);
	mr_after_spawn();
	return ret;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file,
			const posix_spawn_file_actions_t *actions,
			const posix_spawnattr_t *attr, char *const argv[],
			char *const envp[])
{
	int ret;

	mr_before_spawn();
	ret = REAL_CALL(posix_spawnp, ENOSYS, pid, file, actions, attr, argv,
			envp);
	mr_after_spawn();
	return ret;
}

EXPORT int system(const char *command)
{
	int ret;

	if (!command)
		return REAL_CALL(system, -1, command);
	mr_before_spawn();
	ret = REAL_CALL(system, -1, command);
	mr_after_spawn();
	return ret;
}

EXPORT FILE *popen(const char *command, const char *type)
{
	FILE *stream;

	mr_before_spawn();
	stream = REAL_CALL(popen, NULL, command, type);
	mr_after_spawn();
	if (stream)
		mr_forget_fd(fileno(stream));
	return stream;
}

/*
 * Unless mmapread serves the stream (mr_stdio.h), stdio takes the fd over:
 * from now on it reads at the kernel's offset.
 */
EXPORT FILE *fdopen(int fd, const char *mode)
{
	FILE *stream;

	if (!mr_stdio_fdopen_keeps(fd, mode)) {
		mr_give_to_libc(fd);
		return REAL_CALL(fdopen, NULL, fd, mode);
	}
	stream = REAL_CALL(fdopen, NULL, fd, mode);
	if (stream)
		mr_stdio_fdopened(stream, fd);
	return stream;
}

/*
 * readdir() reads the directory at the kernel's offset (getdents), and
 * closedir() closes the fd inside libc; fdopendir itself reads nothing.
 */
EXPORT DIR *fdopendir(int fd)
{
	DIR *dir = REAL_CALL(fdopendir, NULL, fd);

	if (dir)
		mr_give_to_libc(fd);
	return dir;
}

/*
 * Functions that fork inside libc, where the fork wrapper does not see it:
 * daemon() (whose child also puts /dev/null on fds 0-2 with an internal
 * dup2), forkpty() and wordexp() (command substitution runs a shell).
 */
EXPORT int daemon(int nochdir, int noclose)
{
	int ret;

	mr_before_child();
	ret = REAL_CALL(daemon, -1, nochdir, noclose);
	if (ret != 0) {
		mr_after_child_in_parent();
		return ret;
	}
	mr_after_fork_in_child();
	if (!noclose)
		for (int fd = 0; fd <= 2; fd++)
			mr_forget_fd(fd);
	return ret;
}

EXPORT pid_t forkpty(int *amaster, char *name, const struct termios *termp,
		     const struct winsize *winp)
{
	pid_t pid;

	mr_before_child();
	pid = REAL_CALL(forkpty, -1, amaster, name, termp, winp);
	if (pid == 0) {
		mr_after_fork_in_child();
		for (int fd = 0; fd <= 2; fd++)
			mr_forget_fd(fd);
		return pid;
	}
	mr_after_child_in_parent();
	if (pid > 0)
		mr_forget_fd(*amaster);
	return pid;
}

EXPORT int wordexp(const char *words, wordexp_t *pwordexp, int flags)
{
	int ret;

	mr_before_spawn();
	ret = REAL_CALL(wordexp, WRDE_NOSPACE, words, pwordexp, flags);
	mr_after_spawn();
	return ret;
}

/* ---- calls the kernel serves at the current offset -------------------- */

#include <sys/sendfile.h>

EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	if (!offset)
		mr_hand_back(in_fd, MMAPREAD_FB_KERNEL_USE);
	mr_hand_back(out_fd, MMAPREAD_FB_KERNEL_USE);
	return REAL_CALL(sendfile, -1, out_fd, in_fd, offset, count);
}

EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset,
			  size_t count)
{
	if (!offset)
		mr_hand_back(in_fd, MMAPREAD_FB_KERNEL_USE);
	mr_hand_back(out_fd, MMAPREAD_FB_KERNEL_USE);
	return REAL_CALL(sendfile, -1, out_fd, in_fd, offset, count);
}

EXPORT ssize_t splice(int fd_in, off64_t *off_in, int fd_out,
		      off64_t *off_out, size_t len, unsigned int flags)
{
	if (!off_in)
		mr_hand_back(fd_in, MMAPREAD_FB_KERNEL_USE);
	if (!off_out)
		mr_hand_back(fd_out, MMAPREAD_FB_KERNEL_USE);
	return REAL_CALL(splice, -1, fd_in, off_in, fd_out, off_out, len,
			 flags);
}

EXPORT ssize_t copy_file_range(int fd_in, off64_t *off_in, int fd_out,
			       off64_t *off_out, size_t len,
			       unsigned int flags)
{
	if (!off_in)
		mr_hand_back(fd_in, MMAPREAD_FB_KERNEL_USE);
	if (!off_out)
		mr_hand_back(fd_out, MMAPREAD_FB_KERNEL_USE);
	return REAL_CALL(copy_file_range, -1, fd_in, off_in, fd_out, off_out,
			 len, flags);
}

/* lockf locks from the current offset, through an fcntl inside libc. */
EXPORT int lockf(int fd, int cmd, off_t len)
{
	mr_sync_offset(fd);
	return REAL_CALL(lockf, -1, fd, cmd, len);
}

EXPORT int lockf64(int fd, int cmd, off64_t len)
{
	mr_sync_offset(fd);
	return REAL_CALL(lockf, -1, fd, cmd, len);
}

/* ---- writes at the file offset ------------------------------------------ */

/*
 * These move the kernel's offset (O_APPEND writes move it to the end), so
 * they run through mr_offset_call() with their arguments in a struct.
 * pwrite and pwritev leave the offset alone: the shared mapping shows what
 * they write, and reads past its end go to the kernel.
 */
struct write_args {
	int fd;
	const void *buf;
	size_t count;
	const struct iovec *iov;
	int iovcnt;
	int flags;
	int chk_flag;
	const char *format;
	va_list *ap;
};

static ssize_t call_write(void *p)
{
	struct write_args *a = p;

	return REAL_CALL(write, -1, a->fd, a->buf, a->count);
}

static ssize_t call_writev(void *p)
{
	struct write_args *a = p;

	return REAL_CALL(writev, -1, a->fd, a->iov, a->iovcnt);
}

static ssize_t call_pwritev2(void *p)
{
	struct write_args *a = p;

	return REAL_CALL(pwritev2, -1, a->fd, a->iov, a->iovcnt, -1, a->flags);
}

static ssize_t call_vdprintf(void *p)
{
	struct write_args *a = p;

	return REAL_CALL(vdprintf, -1, a->fd, a->format, *a->ap);
}

static ssize_t call_vdprintf_chk(void *p)
{
	struct write_args *a = p;

	return REAL_CALL(vdprintf_chk, -1, a->fd, a->chk_flag, a->format,
			 *a->ap);
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	struct write_args a = { .fd = fd, .buf = buf, .count = count };

	return CORE(mr_offset_call(fd, call_write, &a));
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct write_args a = { .fd = fd, .iov = iov, .iovcnt = iovcnt };

	return CORE(mr_offset_call(fd, call_writev, &a));
}

/* At offset -1, pwritev2 writes at (and moves) the file offset. */
EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt,
			off_t offset, int flags)
{
	struct write_args a = { .fd = fd, .iov = iov, .iovcnt = iovcnt,
				.flags = flags };

	if (offset != -1)
		return REAL_CALL(pwritev2, -1, fd, iov, iovcnt, offset, flags);
	return CORE(mr_offset_call(fd, call_pwritev2, &a));
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt,
			   off64_t offset, int flags)
{
	return pwritev2(fd, iov, iovcnt, offset, flags);
}

/* dprintf writes through a write inside libc. */
EXPORT int vdprintf(int fd, const char *format, va_list ap)
{
	va_list copy;
	struct write_args a = { .fd = fd, .format = format, .ap = &copy };
	long ret;

	va_copy(copy, ap);
	ret = CORE(mr_offset_call(fd, call_vdprintf, &a));
	va_end(copy);
	return (int)ret;
}

EXPORT int dprintf(int fd, const char *format, ...)
{
	va_list ap;
	int ret;

	va_start(ap, format);
	ret = vdprintf(fd, format, ap);
	va_end(ap);
	return ret;
}

EXPORT int __vdprintf_chk(int fd, int flag, const char *format, va_list ap)
{
	va_list copy;
	struct write_args a = { .fd = fd, .chk_flag = flag, .format = format,
				.ap = &copy };
	long ret;

	va_copy(copy, ap);
	ret = CORE(mr_offset_call(fd, call_vdprintf_chk, &a));
	va_end(copy);
	return (int)ret;
}

EXPORT int __dprintf_chk(int fd, int flag, const char *format, ...)
{
	va_list ap;
	int ret;

	va_start(ap, format);
	ret = __vdprintf_chk(fd, flag, format, ap);
	va_end(ap);
	return ret;
}

/* FIONREAD on a regular file answers size minus the file offset. */
EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request == FIONREAD)
		mr_sync_offset(fd);
	return REAL_CALL(ioctl, -1, fd, request, arg);
}

EXPORT int ftruncate(int fd, off_t length)
{
	int ret = REAL_CALL(ftruncate, -1, fd, length);

	if (ret == 0)
		mr_after_resize(fd);
	return ret;
}

EXPORT int ftruncate64(int fd, off64_t length)
{
	return ftruncate(fd, length);
}

EXPORT int fallocate(int fd, int mode, off_t offset, off_t len)
{
	int ret = REAL_CALL(fallocate, -1, fd, mode, offset, len);

	if (ret == 0)
		mr_after_resize(fd);
	return ret;
}

EXPORT int fallocate64(int fd, int mode, off64_t offset, off64_t len)
{
	return fallocate(fd, mode, offset, len);
}

/* ---- fds created where the table does not look -------------------------- */

/*
 * A number the table still holds can come back from any call that creates
 * an fd, after a close mmapread did not see (inside libc, or a raw system
 * call): the stale entry goes before the program can read the new object.
 */
#define NEW_FD(expr)                         \
	({                                   \
		int fd_ = (expr);            \
		if (fd_ >= 0)                \
			mr_forget_fd(fd_);   \
		fd_;                         \
	})

#define NEW_FD_PAIR(expr, fds)               \
	({                                   \
		int ret_ = (expr);           \
		if (ret_ == 0) {             \
			mr_forget_fd((fds)[0]); \
			mr_forget_fd((fds)[1]); \
		}                            \
		ret_;                        \
	})

/* The stream's fd, forgotten; the stream itself passes through. */
static FILE *new_stream(FILE *stream)
{
	if (stream)
		mr_forget_fd(fileno(stream));
	return stream;
}

EXPORT int socket(int domain, int type, int protocol)
{
	return NEW_FD(REAL_CALL(socket, -1, domain, type, protocol));
}

EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	return NEW_FD_PAIR(REAL_CALL(socketpair, -1, domain, type, protocol,
				     sv), sv);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return NEW_FD(REAL_CALL(accept, -1, fd, addr, addrlen));
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
		   int flags)
{
	return NEW_FD(REAL_CALL(accept4, -1, fd, addr, addrlen, flags));
}

/* fds passed over a unix socket arrive in SCM_RIGHTS control messages. */
static void forget_passed_fds(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			mr_forget_fd(fd);
		}
	}
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t ret = REAL_CALL(recvmsg, -1, fd, msg, flags);

	if (ret >= 0)
		forget_passed_fds(msg);
	return ret;
}

EXPORT int recvmmsg(int fd, struct mmsghdr *vmessages, unsigned int vlen,
		    int flags, struct timespec *tmo)
{
	int ret = REAL_CALL(recvmmsg, -1, fd, vmessages, vlen, flags, tmo);

	for (int i = 0; i < ret; i++)
		forget_passed_fds(&vmessages[i].msg_hdr);
	return ret;
}

/*
 * libunwind, while it records a call stack for MMAPREAD_TRACE, opens a
 * pipe it keeps (to probe memory) at the lowest free numbers, where a
 * program that closes and reopens its fds would find it, or write into
 * it: those fds move out of the way, above 1000, close-on-exec.
 */
static void move_tracer_pipe(int fds[2])
{
	if (!mr_trace_busy())
		return;
	for (int i = 0; i < 2; i++) {
		int high = (int)syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, 1000);

		if (high >= 0) {
			syscall(SYS_close, fds[i]);
			fds[i] = high;
		}
	}
}

EXPORT int pipe(int fds[2])
{
	int ret = NEW_FD_PAIR(REAL_CALL(pipe, -1, fds), fds);

	if (ret == 0)
		move_tracer_pipe(fds);
	return ret;
}

EXPORT int pipe2(int fds[2], int flags)
{
	int ret = NEW_FD_PAIR(REAL_CALL(pipe2, -1, fds, flags), fds);

	if (ret == 0)
		move_tracer_pipe(fds);
	return ret;
}

EXPORT int eventfd(unsigned int count, int flags)
{
	return NEW_FD(REAL_CALL(eventfd, -1, count, flags));
}

EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	return NEW_FD(REAL_CALL(signalfd, -1, fd, mask, flags));
}

EXPORT int timerfd_create(int clockid, int flags)
{
	return NEW_FD(REAL_CALL(timerfd_create, -1, clockid, flags));
}

EXPORT int epoll_create(int size)
{
	return NEW_FD(REAL_CALL(epoll_create, -1, size));
}

EXPORT int epoll_create1(int flags)
{
	return NEW_FD(REAL_CALL(epoll_create1, -1, flags));
}

EXPORT int inotify_init(void)
{
	return NEW_FD(REAL_CALL(inotify_init, -1));
}

EXPORT int inotify_init1(int flags)
{
	return NEW_FD(REAL_CALL(inotify_init1, -1, flags));
}

EXPORT int fanotify_init(unsigned int flags, unsigned int event_f_flags)
{
	return NEW_FD(REAL_CALL(fanotify_init, -1, flags, event_f_flags));
}

EXPORT int memfd_create(const char *name, unsigned int flags)
{
	return NEW_FD(REAL_CALL(memfd_create, -1, name, flags));
}

EXPORT int pidfd_open(pid_t pid, unsigned int flags)
{
	return NEW_FD(REAL_CALL(pidfd_open, -1, pid, flags));
}

EXPORT int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
	return NEW_FD(REAL_CALL(pidfd_getfd, -1, pidfd, targetfd, flags));
}

EXPORT int open_by_handle_at(int mount_fd, struct file_handle *handle,
			     int flags)
{
	return NEW_FD(REAL_CALL(open_by_handle_at, -1, mount_fd, handle,
				flags));
}

EXPORT int posix_openpt(int flags)
{
	return NEW_FD(REAL_CALL(posix_openpt, -1, flags));
}

EXPORT int getpt(void)
{
	return NEW_FD(REAL_CALL(getpt, -1));
}

EXPORT int openpty(int *amaster, int *aslave, char *name,
		   const struct termios *termp, const struct winsize *winp)
{
	int ret = REAL_CALL(openpty, -1, amaster, aslave, name, termp, winp);

	if (ret == 0) {
		mr_forget_fd(*amaster);
		mr_forget_fd(*aslave);
	}
	return ret;
}

EXPORT int shm_open(const char *name, int oflag, mode_t mode)
{
	return NEW_FD(REAL_CALL(shm_open, -1, name, oflag, mode));
}

EXPORT int mkstemp(char *template)
{
	return NEW_FD(REAL_CALL(mkstemp, -1, template));
}

EXPORT int mkstemp64(char *template)
{
	return mkstemp(template);
}

EXPORT int mkostemp(char *template, int flags)
{
	return NEW_FD(REAL_CALL(mkostemp, -1, template, flags));
}

EXPORT int mkostemp64(char *template, int flags)
{
	return mkostemp(template, flags);
}

EXPORT int mkstemps(char *template, int suffixlen)
{
	return NEW_FD(REAL_CALL(mkstemps, -1, template, suffixlen));
}

EXPORT int mkstemps64(char *template, int suffixlen)
{
	return mkstemps(template, suffixlen);
}

EXPORT int mkostemps(char *template, int suffixlen, int flags)
{
	return NEW_FD(REAL_CALL(mkostemps, -1, template, suffixlen, flags));
}

EXPORT int mkostemps64(char *template, int suffixlen, int flags)
{
	return mkostemps(template, suffixlen, flags);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	uint64_t epoch = mr_stdio_epoch();
	FILE *stream = REAL_CALL(fopen, NULL, path, mode);

	mr_stdio_opened(stream, path, mode, epoch);
	return stream;
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen(path, mode);
}

/* freopen seeks the old fd back over unread bytes, then dup3()s the new
 * file onto its number, all inside libc. */
EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
	uint64_t epoch = mr_stdio_epoch();

	if (stream && mr_stdio_served(stream)) {
		mr_stdio_surrender(stream);
		mr_forget_fd(fileno(stream));
	}
	stream = REAL_CALL(freopen, NULL, path, mode, stream);
	if (stream && path)
		mr_stdio_opened(stream, path, mode, epoch);
	else if (stream)
		mr_forget_fd(fileno(stream));
	return stream;
}

EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
	return freopen(path, mode, stream);
}

EXPORT FILE *tmpfile(void)
{
	return new_stream(REAL_CALL(tmpfile, NULL));
}

EXPORT FILE *tmpfile64(void)
{
	return tmpfile();
}

EXPORT DIR *opendir(const char *path)
{
	DIR *dir = REAL_CALL(opendir, NULL, path);

	if (dir)
		mr_forget_fd(dirfd(dir));
	return dir;
}

EXPORT FILE *setmntent(const char *file, const char *mode)
{
	return new_stream(REAL_CALL(setmntent, NULL, file, mode));
}

EXPORT mqd_t mq_open(const char *name, int oflag, ...)
{
	mode_t mode = 0;
	struct mq_attr *attr = NULL;

	if (oflag & O_CREAT) {
		va_list ap;

		va_start(ap, oflag);
		mode = (mode_t)va_arg(ap, int);
		attr = va_arg(ap, struct mq_attr *);
		va_end(ap);
	}
	return NEW_FD(REAL_CALL(mq_open, -1, name, oflag, mode, attr));
}

EXPORT int open_tree(int dfd, const char *path, unsigned int flags)
{
	return NEW_FD(REAL_CALL(open_tree, -1, dfd, path, flags));
}

EXPORT int fsopen(const char *fs_name, unsigned int flags)
{
	return NEW_FD(REAL_CALL(fsopen, -1, fs_name, flags));
}

EXPORT int fspick(int dfd, const char *path, unsigned int flags)
{
	return NEW_FD(REAL_CALL(fspick, -1, dfd, path, flags));
}

EXPORT int fsmount(int fd, unsigned int flags, unsigned int ms_flags)
{
	return NEW_FD(REAL_CALL(fsmount, -1, fd, flags, ms_flags));
}

/* login_tty puts fd on 0-2 and closes it, all inside libc. */
EXPORT int login_tty(int fd)
{
	int ret = REAL_CALL(login_tty, -1, fd);

	if (ret == 0) {
		for (int std = 0; std <= 2; std++)
			mr_forget_fd(std);
		if (fd > 2)
			mr_forget_fd(fd);
	}
	return ret;
}

EXPORT int rresvport(int *port)
{
	return NEW_FD(REAL_CALL(rresvport, -1, port));
}

EXPORT int rresvport_af(int *port, sa_family_t af)
{
	return NEW_FD(REAL_CALL(rresvport_af, -1, port, af));
}

/* The r* commands: a socket, and a second one in *fd2p when asked. */
static int new_fd_and_fd2(int fd, const int *fd2p)
{
	if (fd >= 0) {
		mr_forget_fd(fd);
		if (fd2p)
			mr_forget_fd(*fd2p);
	}
	return fd;
}

EXPORT int rcmd(char **ahost, unsigned short inport, const char *locuser,
		const char *remuser, const char *cmd, int *fd2p)
{
	return new_fd_and_fd2(REAL_CALL(rcmd, -1, ahost, inport, locuser,
					remuser, cmd, fd2p), fd2p);
}

EXPORT int rcmd_af(char **ahost, unsigned short inport, const char *locuser,
		   const char *remuser, const char *cmd, int *fd2p,
		   sa_family_t af)
{
	return new_fd_and_fd2(REAL_CALL(rcmd_af, -1, ahost, inport, locuser,
					remuser, cmd, fd2p, af), fd2p);
}

EXPORT int rexec(char **ahost, int rport, const char *name, const char *pass,
		 const char *cmd, int *fd2p)
{
	return new_fd_and_fd2(REAL_CALL(rexec, -1, ahost, rport, name, pass,
					cmd, fd2p), fd2p);
}

EXPORT int rexec_af(char **ahost, int rport, const char *name,
		    const char *pass, const char *cmd, int *fd2p,
		    sa_family_t af)
{
	return new_fd_and_fd2(REAL_CALL(rexec_af, -1, ahost, rport, name, pass,
					cmd, fd2p, af), fd2p);
}

/* ---- cancellation ---------------------------------------------------- */

/* Served reads test for cancellation themselves, and skip the test while
 * the process has one thread and nobody ever asked for one. */
EXPORT int pthread_cancel(pthread_t thread)
{
	mr_note_cancel();
	mr_unwind_bind();
	return REAL_CALL(pthread_cancel, ENOSYS, thread);
}

/* ---- signal masks: a thread that blocks SIGBUS must not fault --------- */

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *oldset)
{
	return -mr_guard_sigmask(how, set, oldset);
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *oldset)
{
	return (int)CORE(mr_guard_sigmask(how, set, oldset));
}

/*
 * Jumping out of a signal handler restores a saved mask inside libc, where
 * mmapread cannot see it: note the mask the jump will install first.
 */
#include <setjmp.h>

static void note_jump_mask(const struct __jmp_buf_tag *env)
{
	mr_guard_note_mask(env->__mask_was_saved ? &env->__saved_mask : NULL);
}

EXPORT __attribute__((noreturn)) void siglongjmp(sigjmp_buf env, int val)
{
	note_jump_mask(env);
	mr_real_table()->siglongjmp(env, val);
	__builtin_unreachable();
}

EXPORT __attribute__((noreturn)) void longjmp(jmp_buf env, int val)
{
	note_jump_mask(env);
	mr_real_table()->siglongjmp(env, val);
	__builtin_unreachable();
}

EXPORT __attribute__((noreturn)) void __longjmp_chk(jmp_buf env, int val);
EXPORT __attribute__((noreturn)) void __longjmp_chk(jmp_buf env, int val)
{
	note_jump_mask(env);
	mr_real_table()->longjmp_chk(env, val);
	__builtin_unreachable();
}

/* ---- the other ways to set a signal's disposition --------------------- */

/*
 * These reach the kernel through sigaction inside libc, where no preload
 * sees them: for SIGBUS and SIGSEGV, once mmapread's handlers are in place,
 * they go through the same record as sigaction().
 */
static __sighandler_t set_disposition(int sig, __sighandler_t handler,
				      int flags, bool defer_self)
{
	struct sigaction act, old;
	int err;

	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (defer_self)
		sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	err = mr_guard_sigaction(sig, &act, &old);
	if (err) {
		errno = -err;
		return SIG_ERR;
	}
	return old.sa_handler;
}

EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t handler)
{
	if (mr_guard_intercepts(sig))
		return set_disposition(sig, handler, SA_RESTART, true);
	return REAL_CALL(bsd_signal, SIG_ERR, sig, handler);
}

EXPORT __sighandler_t ssignal(int sig, __sighandler_t handler)
{
	if (mr_guard_intercepts(sig))
		return set_disposition(sig, handler, SA_RESTART, true);
	return REAL_CALL(ssignal, SIG_ERR, sig, handler);
}

EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t handler)
{
	if (mr_guard_intercepts(sig))
		return set_disposition(sig, handler,
				       SA_RESETHAND | SA_NODEFER, false);
	return REAL_CALL(sysv_signal, SIG_ERR, sig, handler);
}

EXPORT __sighandler_t sigset(int sig, __sighandler_t disp)
{
	sigset_t one;
	bool was_held;

	if (!mr_guard_intercepts(sig) || disp == SIG_HOLD)
		return REAL_CALL(sigset, SIG_ERR, sig, disp);
	/* sigset() also unblocks the signal and reports SIG_HOLD when it
	 * was blocked. */
	sigemptyset(&one);
	sigaddset(&one, sig);
	{
		sigset_t old;

		if (mr_guard_sigmask(SIG_UNBLOCK, &one, &old) != 0)
			return SIG_ERR;
		was_held = sigismember(&old, sig) == 1;
	}
	{
		__sighandler_t prev = set_disposition(sig, disp, 0, true);

		return prev == SIG_ERR ? SIG_ERR : was_held ? SIG_HOLD : prev;
	}
}

/* Mask changes made inside libc: ask the kernel again next time. */
EXPORT int sighold(int sig)
{
	int ret = REAL_CALL(sighold, -1, sig);

	mr_guard_note_mask(NULL);
	return ret;
}

EXPORT int sigrelse(int sig)
{
	int ret = REAL_CALL(sigrelse, -1, sig);

	mr_guard_note_mask(NULL);
	return ret;
}

EXPORT int sigblock(int mask)
{
	int ret = REAL_CALL(sigblock, -1, mask);

	mr_guard_note_mask(NULL);
	return ret;
}

EXPORT int sigsetmask(int mask)
{
	int ret = REAL_CALL(sigsetmask, -1, mask);

	mr_guard_note_mask(NULL);
	return ret;
}

#include <ucontext.h>

EXPORT int setcontext(const ucontext_t *ucp)
{
	mr_guard_note_mask(&ucp->uc_sigmask);
	return REAL_CALL(setcontext, -1, ucp);
}

EXPORT int swapcontext(ucontext_t *oucp, const ucontext_t *ucp)
{
	int ret;

	mr_guard_note_mask(&ucp->uc_sigmask);
	ret = REAL_CALL(swapcontext, -1, oucp, ucp);
	/* Back here when something switched to oucp: its mask is in force. */
	mr_guard_note_mask(NULL);
	return ret;
}

/* ---- stdio streams mmapread serves (mr_stdio.h) ------------------------- */

#include <mntent.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <gshadow.h>
#include <wchar.h>

/*
 * libc's own function, resolved on first use: most programs call few of
 * these, and each dlsym() at load would cost every process.
 */
#define REAL_STDIO(name)                                                   \
	({                                                                 \
		static void *real_;                                        \
		(__typeof__(&name))mr_real_lookup(&real_, #name);          \
	})

/*
 * Defined under their libc names through asm labels: glibc's headers make
 * some of them inline functions or macros (getline, getc_unlocked,
 * fread_unlocked) that a C definition would collide with.
 */
#define STDIO_WRAPPER(ret, name, params) \
	EXPORT ret mrw_##name params __asm__(#name); \
	EXPORT ret mrw_##name params

extern int __underflow(FILE *fp);
extern int _IO_getc(FILE *fp);
extern ssize_t __getdelim(char **lineptr, size_t *n, int delim, FILE *fp);
extern char *__fgets_chk(char *buf, size_t size, int n, FILE *fp);
extern char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *fp);
extern size_t __fread_chk(void *buf, size_t buflen, size_t size, size_t n,
			  FILE *fp);
extern size_t __fread_unlocked_chk(void *buf, size_t buflen, size_t size,
				   size_t n, FILE *fp);

/*
 * The getc family: the buffer's next byte taken here as libc's own code
 * takes it when the stream needs no lock (any stream: a getc loop must not
 * pay for a second call), and a refill through mmapread when it is empty.
 */
#define GETC_BODY(fp, name, lock)                                          \
	do {                                                               \
		if ((!(lock) || !((fp)->_flags2 & MR_IO_FLAGS2_NEED_LOCK)) && \
		    (fp)->_IO_read_ptr < (fp)->_IO_read_end)               \
			return *(unsigned char *)(fp)->_IO_read_ptr++;     \
		if (!mr_stdio_served(fp))                                  \
			return REAL_STDIO(name)(fp);                       \
		return mr_stdio_getc(fp, lock);                            \
	} while (0)

STDIO_WRAPPER(int, getc, (FILE *fp))
{
	GETC_BODY(fp, getc, true);
}

STDIO_WRAPPER(int, fgetc, (FILE *fp))
{
	GETC_BODY(fp, fgetc, true);
}

STDIO_WRAPPER(int, _IO_getc, (FILE *fp))
{
	GETC_BODY(fp, _IO_getc, true);
}

STDIO_WRAPPER(int, getc_unlocked, (FILE *fp))
{
	GETC_BODY(fp, getc_unlocked, false);
}

STDIO_WRAPPER(int, fgetc_unlocked, (FILE *fp))
{
	GETC_BODY(fp, fgetc_unlocked, false);
}

/* Called by the getc_unlocked() macro programs inline, when the buffer
 * is empty. */
STDIO_WRAPPER(int, __uflow, (FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__uflow)(fp);
	return mr_stdio_uflow(fp);
}

STDIO_WRAPPER(int, __underflow, (FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__underflow)(fp);
	return mr_stdio_underflow(fp);
}

STDIO_WRAPPER(char *, fgets, (char *buf, int n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(fgets)(buf, n, fp);
	return mr_stdio_fgets(buf, n, fp, true, SIZE_MAX);
}

STDIO_WRAPPER(char *, fgets_unlocked, (char *buf, int n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(fgets_unlocked)(buf, n, fp);
	return mr_stdio_fgets(buf, n, fp, false, SIZE_MAX);
}

STDIO_WRAPPER(char *, __fgets_chk, (char *buf, size_t size, int n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__fgets_chk)(buf, size, n, fp);
	return mr_stdio_fgets(buf, n, fp, true, size);
}

STDIO_WRAPPER(char *, __fgets_unlocked_chk,
	      (char *buf, size_t size, int n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__fgets_unlocked_chk)(buf, size, n, fp);
	return mr_stdio_fgets(buf, n, fp, false, size);
}

STDIO_WRAPPER(ssize_t, getdelim,
	      (char **lineptr, size_t *n, int delim, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(getdelim)(lineptr, n, delim, fp);
	return mr_stdio_getdelim_inline(lineptr, n, delim, fp);
}

STDIO_WRAPPER(ssize_t, __getdelim,
	      (char **lineptr, size_t *n, int delim, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__getdelim)(lineptr, n, delim, fp);
	return mr_stdio_getdelim_inline(lineptr, n, delim, fp);
}

STDIO_WRAPPER(ssize_t, getline, (char **lineptr, size_t *n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(getline)(lineptr, n, fp);
	return mr_stdio_getdelim_inline(lineptr, n, '\n', fp);
}

STDIO_WRAPPER(size_t, fread, (void *buf, size_t size, size_t n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(fread)(buf, size, n, fp);
	return mr_stdio_fread(buf, size, n, fp, true);
}

STDIO_WRAPPER(size_t, fread_unlocked,
	      (void *buf, size_t size, size_t n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(fread_unlocked)(buf, size, n, fp);
	return mr_stdio_fread(buf, size, n, fp, false);
}

/* __fread_chk's own checks, then the read. */
static void fread_chk(size_t buflen, size_t size, size_t n)
{
	size_t total = size * n;

	if (((n | size) >= ((size_t)1 << (8 * sizeof(size_t) / 2)) &&
	     size != 0 && total / size != n) ||
	    total > buflen)
		__chk_fail();
}

STDIO_WRAPPER(size_t, __fread_chk,
	      (void *buf, size_t buflen, size_t size, size_t n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__fread_chk)(buf, buflen, size, n, fp);
	fread_chk(buflen, size, n);
	return mr_stdio_fread(buf, size, n, fp, true);
}

STDIO_WRAPPER(size_t, __fread_unlocked_chk,
	      (void *buf, size_t buflen, size_t size, size_t n, FILE *fp))
{
	if (!mr_stdio_served(fp))
		return REAL_STDIO(__fread_unlocked_chk)(buf, buflen, size, n,
							 fp);
	fread_chk(buflen, size, n);
	return mr_stdio_fread(buf, size, n, fp, false);
}

/* Where the stream is: libc may ask the kernel's offset. */
#define TELL_BODY(fp, call)                                                \
	do {                                                               \
		struct mr_stdio_bracket b_;                                \
		__typeof__(call) ret_;                                     \
		if (!mr_stdio_served(fp))                                  \
			return call;                                       \
		mr_stdio_tell_begin(fp, &b_);                              \
		ret_ = call;                                               \
		mr_stdio_bracket_end(&b_, true);                           \
		return ret_;                                               \
	} while (0)

STDIO_WRAPPER(long, ftell, (FILE *fp))
{
	TELL_BODY(fp, REAL_STDIO(ftell)(fp));
}

STDIO_WRAPPER(off_t, ftello, (FILE *fp))
{
	TELL_BODY(fp, REAL_STDIO(ftello)(fp));
}

STDIO_WRAPPER(off64_t, ftello64, (FILE *fp))
{
	TELL_BODY(fp, REAL_STDIO(ftello64)(fp));
}

STDIO_WRAPPER(int, fgetpos, (FILE *fp, fpos_t *pos))
{
	TELL_BODY(fp, REAL_STDIO(fgetpos)(fp, pos));
}

STDIO_WRAPPER(int, fgetpos64, (FILE *fp, fpos64_t *pos))
{
	TELL_BODY(fp, REAL_STDIO(fgetpos64)(fp, pos));
}

/* Seeks: libc moves the kernel's offset, and the description follows. */
#define SEEK_BODY(fp, whence, call)                                        \
	do {                                                               \
		struct mr_stdio_bracket b_;                                \
		int ret_;                                                  \
		if (!mr_stdio_served(fp))                                  \
			return call;                                       \
		mr_stdio_seek_begin(fp, whence, &b_);                      \
		ret_ = call;                                               \
		mr_stdio_bracket_end(&b_, ret_ == 0);                      \
		return ret_;                                               \
	} while (0)

STDIO_WRAPPER(int, fseek, (FILE *fp, long off, int whence))
{
	SEEK_BODY(fp, whence, REAL_STDIO(fseek)(fp, off, whence));
}

STDIO_WRAPPER(int, fseeko, (FILE *fp, off_t off, int whence))
{
	SEEK_BODY(fp, whence, REAL_STDIO(fseeko)(fp, off, whence));
}

STDIO_WRAPPER(int, fseeko64, (FILE *fp, off64_t off, int whence))
{
	SEEK_BODY(fp, whence, REAL_STDIO(fseeko64)(fp, off, whence));
}

STDIO_WRAPPER(int, fsetpos, (FILE *fp, const fpos_t *pos))
{
	SEEK_BODY(fp, SEEK_SET, REAL_STDIO(fsetpos)(fp, pos));
}

STDIO_WRAPPER(int, fsetpos64, (FILE *fp, const fpos64_t *pos))
{
	SEEK_BODY(fp, SEEK_SET, REAL_STDIO(fsetpos64)(fp, pos));
}

STDIO_WRAPPER(void, rewind, (FILE *fp))
{
	struct mr_stdio_bracket b;

	if (!mr_stdio_served(fp)) {
		REAL_STDIO(rewind)(fp);
		return;
	}
	mr_stdio_seek_begin(fp, SEEK_SET, &b);
	REAL_STDIO(rewind)(fp);
	mr_stdio_bracket_end(&b, true);
}

/* fflush and the buffer changes seek the kernel back over unread bytes. */
#define SYNC_BODY(fp, type, call, ok)                                      \
	do {                                                               \
		struct mr_stdio_bracket b_;                                \
		type ret_;                                                 \
		if (!(fp) || !mr_stdio_served(fp))                         \
			return call;                                       \
		mr_stdio_sync_begin(fp, &b_);                              \
		ret_ = call;                                               \
		mr_stdio_bracket_end(&b_, ok);                             \
		return ret_;                                               \
	} while (0)

STDIO_WRAPPER(int, fflush, (FILE *fp))
{
	SYNC_BODY(fp, int, REAL_STDIO(fflush)(fp), ret_ == 0);
}

STDIO_WRAPPER(int, fflush_unlocked, (FILE *fp))
{
	SYNC_BODY(fp, int, REAL_STDIO(fflush_unlocked)(fp), ret_ == 0);
}

STDIO_WRAPPER(int, setvbuf, (FILE *fp, char *buf, int mode, size_t size))
{
	SYNC_BODY(fp, int, REAL_STDIO(setvbuf)(fp, buf, mode, size),
		  ret_ == 0);
}

#define SYNC_VOID_BODY(fp, call)                \
	do {                                    \
		struct mr_stdio_bracket b_;     \
		if (!mr_stdio_served(fp)) {     \
			call;                   \
			return;                 \
		}                               \
		mr_stdio_sync_begin(fp, &b_);   \
		call;                           \
		mr_stdio_bracket_end(&b_, true); \
	} while (0)

STDIO_WRAPPER(void, setbuf, (FILE *fp, char *buf))
{
	SYNC_VOID_BODY(fp, REAL_STDIO(setbuf)(fp, buf));
}

STDIO_WRAPPER(void, setbuffer, (FILE *fp, char *buf, size_t size))
{
	SYNC_VOID_BODY(fp, REAL_STDIO(setbuffer)(fp, buf, size));
}

STDIO_WRAPPER(void, setlinebuf, (FILE *fp))
{
	SYNC_VOID_BODY(fp, REAL_STDIO(setlinebuf)(fp));
}

/* fclose closes the fd inside libc. */
STDIO_WRAPPER(int, fclose, (FILE *fp))
{
	mr_stdio_before_close(fp);
	return REAL_STDIO(fclose)(fp);
}

STDIO_WRAPPER(int, fcloseall, (void))
{
	mr_stdio_before_closeall();
	return REAL_STDIO(fcloseall)();
}

/*
 * Calls that read a stream through code mmapread does not reimplement:
 * the stream goes back to libc first, for good.
 */
#define HAND_BACK(fp)                          \
	do {                                   \
		if ((fp) && mr_stdio_served(fp)) \
			mr_stdio_surrender(fp); \
	} while (0)

#define HAND_BACK_N(ret, name, params, ...)                                \
	extern ret name params;                                            \
	STDIO_WRAPPER(ret, name, params)                                   \
	{                                                                  \
		HAND_BACK(fp);                                             \
		return REAL_STDIO(name)(__VA_ARGS__);                      \
	}

#define SCANF_WRAPPER(name, vname, char_type)                              \
	STDIO_WRAPPER(int, name, (FILE *fp, const char_type *fmt, ...))   \
	{                                                                  \
		va_list ap;                                                \
		int ret;                                                   \
		HAND_BACK(fp);                                             \
		va_start(ap, fmt);                                         \
		ret = REAL_STDIO(vname)(fp, fmt, ap);                      \
		va_end(ap);                                                \
		return ret;                                                \
	}                                                                  \
	STDIO_WRAPPER(int, vname, (FILE *fp, const char_type *fmt, va_list ap)) \
	{                                                                  \
		HAND_BACK(fp);                                             \
		return REAL_STDIO(vname)(fp, fmt, ap);                     \
	}

extern int __isoc99_fscanf(FILE *fp, const char *fmt, ...);
extern int __isoc99_vfscanf(FILE *fp, const char *fmt, va_list ap);

SCANF_WRAPPER(fscanf, vfscanf, char)
SCANF_WRAPPER(__isoc99_fscanf, __isoc99_vfscanf, char)
SCANF_WRAPPER(fwscanf, vfwscanf, wchar_t)

HAND_BACK_N(wint_t, fgetwc, (FILE *fp), fp)
HAND_BACK_N(wint_t, getwc, (FILE *fp), fp)
HAND_BACK_N(wint_t, fgetwc_unlocked, (FILE *fp), fp)
HAND_BACK_N(wint_t, getwc_unlocked, (FILE *fp), fp)
HAND_BACK_N(int, getw, (FILE *fp), fp)
HAND_BACK_N(struct passwd *, fgetpwent, (FILE *fp), fp)
HAND_BACK_N(struct group *, fgetgrent, (FILE *fp), fp)
HAND_BACK_N(struct spwd *, fgetspent, (FILE *fp), fp)
HAND_BACK_N(struct sgrp *, fgetsgent, (FILE *fp), fp)
HAND_BACK_N(struct mntent *, getmntent, (FILE *fp), fp)




HAND_BACK_N(wchar_t *, fgetws, (wchar_t *ws, int n, FILE *fp), ws, n, fp)
HAND_BACK_N(wchar_t *, fgetws_unlocked, (wchar_t *ws, int n, FILE *fp),
	    ws, n, fp)
HAND_BACK_N(wint_t, ungetwc, (wint_t wc, FILE *fp), wc, fp)
HAND_BACK_N(int, fgetpwent_r,
	    (FILE *fp, struct passwd *pw, char *buf, size_t len,
	     struct passwd **ret), fp, pw, buf, len, ret)
HAND_BACK_N(int, fgetgrent_r,
	    (FILE *fp, struct group *gr, char *buf, size_t len,
	     struct group **ret), fp, gr, buf, len, ret)
HAND_BACK_N(int, fgetspent_r,
	    (FILE *fp, struct spwd *sp, char *buf, size_t len,
	     struct spwd **ret), fp, sp, buf, len, ret)
HAND_BACK_N(int, fgetsgent_r,
	    (FILE *fp, struct sgrp *sg, char *buf, size_t len,
	     struct sgrp **ret), fp, sg, buf, len, ret)
HAND_BACK_N(struct mntent *, getmntent_r,
	    (FILE *fp, struct mntent *m, char *buf, int len), fp, m, buf, len)

/* A stream made wide reads through libc's wide buffer from then on. */
STDIO_WRAPPER(int, fwide, (FILE *fp, int mode))
{
	if (mode > 0)
		HAND_BACK(fp);
	return REAL_STDIO(fwide)(fp, mode);
}






/*
 * libio's own names, still exported for old binaries (libstdc++ before
 * GCC 3.4 and programs built against glibc 2.0): code mmapread does not
 * reimplement, so the stream goes back to libc first.
 */
HAND_BACK_N(size_t, _IO_getline,
	    (FILE *fp, char *buf, size_t n, int delim, int extract),
	    fp, buf, n, delim, extract)
HAND_BACK_N(size_t, _IO_getline_info,
	    (FILE *fp, char *buf, size_t n, int delim, int extract, int *eof),
	    fp, buf, n, delim, extract, eof)
HAND_BACK_N(size_t, _IO_sgetn, (FILE *fp, void *buf, size_t n), fp, buf, n)
HAND_BACK_N(size_t, _IO_default_xsgetn, (FILE *fp, void *buf, size_t n),
	    fp, buf, n)
HAND_BACK_N(off64_t, _IO_seekoff, (FILE *fp, off64_t off, int dir, int mode),
	    fp, off, dir, mode)
HAND_BACK_N(off64_t, _IO_seekpos, (FILE *fp, off64_t pos, int mode),
	    fp, pos, mode)
HAND_BACK_N(off64_t, _IO_file_seekoff,
	    (FILE *fp, off64_t off, int dir, int mode), fp, off, dir, mode)
HAND_BACK_N(off64_t, _IO_file_seek, (FILE *fp, off64_t off, int dir),
	    fp, off, dir)
HAND_BACK_N(ssize_t, _IO_file_read, (FILE *fp, void *buf, ssize_t n),
	    fp, buf, n)
HAND_BACK_N(FILE *, _IO_file_setbuf, (FILE *fp, char *buf, ssize_t n),
	    fp, buf, n)
HAND_BACK_N(int, _IO_file_underflow, (FILE *fp), fp)
HAND_BACK_N(int, _IO_file_sync, (FILE *fp), fp)
HAND_BACK_N(int, _IO_default_uflow, (FILE *fp), fp)
HAND_BACK_N(int, _IO_peekc_locked, (FILE *fp), fp)
HAND_BACK_N(char *, _IO_fgets, (char *buf, int n, FILE *fp), buf, n, fp)
HAND_BACK_N(size_t, _IO_fread, (void *buf, size_t size, size_t n, FILE *fp),
	    buf, size, n, fp)
HAND_BACK_N(int, _IO_fflush, (FILE *fp), fp)
HAND_BACK_N(long, _IO_ftell, (FILE *fp), fp)
HAND_BACK_N(int, _IO_fgetpos, (FILE *fp, fpos_t *pos), fp, pos)
HAND_BACK_N(int, _IO_fgetpos64, (FILE *fp, fpos64_t *pos), fp, pos)
HAND_BACK_N(int, _IO_fsetpos, (FILE *fp, const fpos_t *pos), fp, pos)
HAND_BACK_N(int, _IO_fsetpos64, (FILE *fp, const fpos64_t *pos), fp, pos)
HAND_BACK_N(int, _IO_setvbuf, (FILE *fp, char *buf, int mode, size_t size),
	    fp, buf, mode, size)
HAND_BACK_N(void, _IO_setbuffer, (FILE *fp, char *buf, size_t size),
	    fp, buf, size)
HAND_BACK_N(int, _IO_vfscanf,
	    (FILE *fp, const char *fmt, va_list ap, int *errp), fp, fmt, ap,
	    errp)
HAND_BACK_N(int, __vfscanf, (FILE *fp, const char *fmt, va_list ap),
	    fp, fmt, ap)

/* libio's fclose closes the fd inside libc, as fclose does. */
extern int _IO_fclose(FILE *fp);
STDIO_WRAPPER(int, _IO_fclose, (FILE *fp))
{
	mr_stdio_before_close(fp);
	return REAL_STDIO(_IO_fclose)(fp);
}
