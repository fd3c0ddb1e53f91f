/*
 * Resolving the real libc functions.
 *
 * dlsym() may allocate, and an allocator (or another preload) may open and
 * read files while it runs; those calls come back into mmapread before the
 * table is filled. A thread-local flag marks the resolution in progress and
 * every accessor then takes the raw system call, so recursion ends at once.
 */
#include "mr_real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct mr_real real;
static atomic_bool real_ready;
static __thread bool resolving;

#define RESOLVE(field, name) \
	__atomic_store_n(&real.field, dlsym(RTLD_NEXT, name), __ATOMIC_RELAXED)

void mr_real_init(void)
{
	if (atomic_load_explicit(&real_ready, memory_order_acquire) ||
	    resolving)
		return;
	resolving = true;
	RESOLVE(open, "open");
	RESOLVE(openat, "openat");
	RESOLVE(read, "read");
	RESOLVE(pread, "pread");
	RESOLVE(readv, "readv");
	RESOLVE(preadv, "preadv");
	RESOLVE(preadv2, "preadv2");
	RESOLVE(lseek, "lseek");
	RESOLVE(close, "close");
	RESOLVE(close_range, "close_range");
	RESOLVE(closefrom, "closefrom");
	RESOLVE(dup, "dup");
	RESOLVE(dup2, "dup2");
	RESOLVE(dup3, "dup3");
	RESOLVE(fcntl, "fcntl");
	RESOLVE(sigaction, "sigaction");
	RESOLVE(signal, "signal");
	RESOLVE(pthread_sigmask, "pthread_sigmask");
	RESOLVE(fork, "fork");
	RESOLVE(fork_underscore, "_Fork");
	RESOLVE(vfork, "vfork");
	RESOLVE(execve, "execve");
	RESOLVE(execv, "execv");
	RESOLVE(execvp, "execvp");
	RESOLVE(execvpe, "execvpe");
	RESOLVE(fexecve, "fexecve");
	RESOLVE(execveat, "execveat");
	RESOLVE(posix_spawn, "posix_spawn");
	RESOLVE(posix_spawnp, "posix_spawnp");
	RESOLVE(system, "system");
	RESOLVE(popen, "popen");
	RESOLVE(fdopen, "fdopen");
	RESOLVE(sendfile, "sendfile");
	RESOLVE(splice, "splice");
	RESOLVE(copy_file_range, "copy_file_range");
	RESOLVE(lockf, "lockf");
	RESOLVE(siglongjmp, "siglongjmp");
	RESOLVE(bsd_signal, "bsd_signal");
	RESOLVE(ssignal, "ssignal");
	RESOLVE(sysv_signal, "sysv_signal");
	RESOLVE(sigset, "sigset");
	RESOLVE(sighold, "sighold");
	RESOLVE(sigrelse, "sigrelse");
	RESOLVE(sigblock, "sigblock");
	RESOLVE(sigsetmask, "sigsetmask");
	RESOLVE(setcontext, "setcontext");
	RESOLVE(swapcontext, "swapcontext");
	RESOLVE(longjmp_chk, "__longjmp_chk");
	RESOLVE(exit_underscore, "_exit");
	RESOLVE(daemon, "daemon");
	RESOLVE(forkpty, "forkpty");
	RESOLVE(wordexp, "wordexp");
	RESOLVE(write, "write");
	RESOLVE(writev, "writev");
	RESOLVE(pwritev2, "pwritev2");
	RESOLVE(vdprintf, "vdprintf");
	RESOLVE(vdprintf_chk, "__vdprintf_chk");
	RESOLVE(ioctl, "ioctl");
	RESOLVE(ftruncate, "ftruncate");
	RESOLVE(fallocate, "fallocate");
	RESOLVE(fdopendir, "fdopendir");
	RESOLVE(pthread_cancel, "pthread_cancel");
	RESOLVE(socket, "socket");
	RESOLVE(socketpair, "socketpair");
	RESOLVE(accept, "accept");
	RESOLVE(accept4, "accept4");
	RESOLVE(recvmsg, "recvmsg");
	RESOLVE(recvmmsg, "recvmmsg");
	RESOLVE(pipe, "pipe");
	RESOLVE(pipe2, "pipe2");
	RESOLVE(eventfd, "eventfd");
	RESOLVE(signalfd, "signalfd");
	RESOLVE(timerfd_create, "timerfd_create");
	RESOLVE(epoll_create, "epoll_create");
	RESOLVE(epoll_create1, "epoll_create1");
	RESOLVE(inotify_init, "inotify_init");
	RESOLVE(inotify_init1, "inotify_init1");
	RESOLVE(fanotify_init, "fanotify_init");
	RESOLVE(memfd_create, "memfd_create");
	RESOLVE(pidfd_open, "pidfd_open");
	RESOLVE(pidfd_getfd, "pidfd_getfd");
	RESOLVE(open_by_handle_at, "open_by_handle_at");
	RESOLVE(posix_openpt, "posix_openpt");
	RESOLVE(getpt, "getpt");
	RESOLVE(openpty, "openpty");
	RESOLVE(shm_open, "shm_open");
	RESOLVE(fopen, "fopen");
	RESOLVE(freopen, "freopen");
	RESOLVE(tmpfile, "tmpfile");
	RESOLVE(mkstemp, "mkstemp");
	RESOLVE(mkostemp, "mkostemp");
	RESOLVE(mkstemps, "mkstemps");
	RESOLVE(mkostemps, "mkostemps");
	RESOLVE(opendir, "opendir");
	RESOLVE(setmntent, "setmntent");
	RESOLVE(mq_open, "mq_open");
	RESOLVE(open_tree, "open_tree");
	RESOLVE(fsopen, "fsopen");
	RESOLVE(fspick, "fspick");
	RESOLVE(fsmount, "fsmount");
	RESOLVE(login_tty, "login_tty");
	RESOLVE(rresvport, "rresvport");
	RESOLVE(rresvport_af, "rresvport_af");
	RESOLVE(rcmd, "rcmd");
	RESOLVE(rcmd_af, "rcmd_af");
	RESOLVE(rexec, "rexec");
	RESOLVE(rexec_af, "rexec_af");
	atomic_store_explicit(&real_ready, true, memory_order_release);
	resolving = false;
}

/* The resolved pointer, or NULL while it cannot be had yet. */
#define REAL(field)                                                       \
	(__builtin_expect(atomic_load_explicit(&real_ready,                \
					       memory_order_acquire), 1) \
		 ? real.field                                             \
		 : (mr_real_init(),                                       \
		    __atomic_load_n(&real.field, __ATOMIC_RELAXED)))

int mr_real_open(const char *path, int flags, mode_t mode)
{
	int (*fn)(const char *, int, ...) = REAL(open);

	if (fn)
		return fn(path, flags, mode);
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int mr_real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int (*fn)(int, const char *, int, ...) = REAL(openat);

	if (fn)
		return fn(dirfd, path, flags, mode);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

ssize_t mr_real_read(int fd, void *buf, size_t count)
{
	ssize_t (*fn)(int, void *, size_t) = REAL(read);

	if (fn)
		return fn(fd, buf, count);
	return syscall(SYS_read, fd, buf, count);
}

ssize_t mr_real_pread(int fd, void *buf, size_t count, off_t off)
{
	ssize_t (*fn)(int, void *, size_t, off_t) = REAL(pread);

	if (fn)
		return fn(fd, buf, count, off);
	return syscall(SYS_pread64, fd, buf, count, off);
}

ssize_t mr_real_readv(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t (*fn)(int, const struct iovec *, int) = REAL(readv);

	if (fn)
		return fn(fd, iov, iovcnt);
	return syscall(SYS_readv, fd, iov, iovcnt);
}

ssize_t mr_real_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	ssize_t (*fn)(int, const struct iovec *, int, off_t) = REAL(preadv);

	if (fn)
		return fn(fd, iov, iovcnt, off);
	return syscall(SYS_preadv, fd, iov, iovcnt, off, 0);
}

ssize_t mr_real_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
			int flags)
{
	ssize_t (*fn)(int, const struct iovec *, int, off_t, int) =
		REAL(preadv2);

	if (fn)
		return fn(fd, iov, iovcnt, off, flags);
	return syscall(SYS_preadv2, fd, iov, iovcnt, off, 0, flags);
}

off_t mr_real_lseek(int fd, off_t off, int whence)
{
	off_t (*fn)(int, off_t, int) = REAL(lseek);

	if (fn)
		return fn(fd, off, whence);
	return syscall(SYS_lseek, fd, off, whence);
}

int mr_real_close(int fd)
{
	int (*fn)(int) = REAL(close);

	if (fn)
		return fn(fd);
	return (int)syscall(SYS_close, fd);
}

int mr_real_close_range(unsigned int first, unsigned int last, int flags)
{
	int (*fn)(unsigned int, unsigned int, int) = REAL(close_range);

	if (fn)
		return fn(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

void mr_real_closefrom(int lowfd)
{
	void (*fn)(int) = REAL(closefrom);

	if (fn)
		fn(lowfd);
	else
		syscall(SYS_close_range, (unsigned int)lowfd, ~0u, 0);
}

int mr_real_dup(int fd)
{
	int (*fn)(int) = REAL(dup);

	if (fn)
		return fn(fd);
	return (int)syscall(SYS_dup, fd);
}

int mr_real_dup2(int oldfd, int newfd)
{
	int (*fn)(int, int) = REAL(dup2);

	if (fn)
		return fn(oldfd, newfd);
	return (int)syscall(SYS_dup2, oldfd, newfd);
}

int mr_real_dup3(int oldfd, int newfd, int flags)
{
	int (*fn)(int, int, int) = REAL(dup3);

	if (fn)
		return fn(oldfd, newfd, flags);
	return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

int mr_real_fcntl(int fd, int cmd, void *arg)
{
	int (*fn)(int, int, ...) = REAL(fcntl);

	if (fn)
		return fn(fd, cmd, arg);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

int mr_real_sigaction(int sig, const struct sigaction *act,
		      struct sigaction *oldact)
{
	int (*fn)(int, const struct sigaction *, struct sigaction *) =
		REAL(sigaction);

	if (fn)
		return fn(sig, act, oldact);
	/* The raw call needs a restorer only libc has: say so plainly. */
	errno = ENOSYS;
	return -1;
}

__sighandler_t mr_real_signal(int sig, __sighandler_t handler)
{
	__sighandler_t (*fn)(int, __sighandler_t) = REAL(signal);

	if (fn)
		return fn(sig, handler);
	errno = ENOSYS;
	return SIG_ERR;
}

const struct mr_real *mr_real_table(void)
{
	mr_real_init();
	return &real;
}

int mr_real_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	int (*fn)(int, const sigset_t *, sigset_t *) = REAL(pthread_sigmask);

	if (fn)
		return fn(how, set, old);
	if (syscall(SYS_rt_sigprocmask, how, set, old, _NSIG / 8) != 0)
		return errno;
	return 0;
}

int mr_sys_fstat(int fd, struct stat *ret_st)
{
	return (int)syscall(SYS_fstat, fd, ret_st);
}

off_t mr_sys_lseek(int fd, off_t off, int whence)
{
	return syscall(SYS_lseek, fd, off, whence);
}

ssize_t mr_sys_write(int fd, const void *buf, size_t count)
{
	return syscall(SYS_write, fd, buf, count);
}

ssize_t mr_sys_pread(int fd, void *buf, size_t count, off_t off)
{
	return syscall(SYS_pread64, fd, buf, count, off);
}

ssize_t mr_sys_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		       int flags)
{
	/* The offset goes in two halves, low first, as glibc passes it. */
	return syscall(SYS_preadv2, fd, iov, iovcnt, (unsigned long)off,
		       (unsigned long)((uint64_t)off >> 32), flags);
}
