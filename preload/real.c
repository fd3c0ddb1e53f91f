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
#include <stddef.h>
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
	RESOLVE(write, "write");
	RESOLVE(writev, "writev");
	RESOLVE(pwritev2, "pwritev2");
	RESOLVE(vdprintf, "vdprintf");
	RESOLVE(vdprintf_chk, "__vdprintf_chk");
	RESOLVE(ioctl, "ioctl");
	RESOLVE(ftruncate, "ftruncate");
	RESOLVE(fallocate, "fallocate");
	RESOLVE(socket, "socket");
	RESOLVE(socketpair, "socketpair");
	RESOLVE(accept, "accept");
	RESOLVE(accept4, "accept4");
	RESOLVE(recvmsg, "recvmsg");
	RESOLVE(recvmmsg, "recvmmsg");
	RESOLVE(pipe, "pipe");
	RESOLVE(pipe2, "pipe2");
	atomic_store_explicit(&real_ready, true, memory_order_release);
	resolving = false;
}

/*
 * Functions resolved on first use instead of at load: each dlsym() costs
 * 0.1-0.3 us, paid by every process (callgrind: 108 lookups at load were a
 * third of /bin/true's user-space instructions under the preload). Only
 * calls that neither a signal handler nor a forked child before its exec
 * would make are here, as dlsym() is not async-signal-safe; the others are
 * resolved by mr_real_init().
 */
static const struct lazy_name {
	size_t offset;
	const char *name;
} lazy_names[] = {
	{ offsetof(struct mr_real, posix_spawn), "posix_spawn" },
	{ offsetof(struct mr_real, posix_spawnp), "posix_spawnp" },
	{ offsetof(struct mr_real, system), "system" },
	{ offsetof(struct mr_real, popen), "popen" },
	{ offsetof(struct mr_real, fdopen), "fdopen" },
	{ offsetof(struct mr_real, daemon), "daemon" },
	{ offsetof(struct mr_real, forkpty), "forkpty" },
	{ offsetof(struct mr_real, wordexp), "wordexp" },
	{ offsetof(struct mr_real, fdopendir), "fdopendir" },
	{ offsetof(struct mr_real, pthread_cancel), "pthread_cancel" },
	{ offsetof(struct mr_real, eventfd), "eventfd" },
	{ offsetof(struct mr_real, signalfd), "signalfd" },
	{ offsetof(struct mr_real, timerfd_create), "timerfd_create" },
	{ offsetof(struct mr_real, epoll_create), "epoll_create" },
	{ offsetof(struct mr_real, epoll_create1), "epoll_create1" },
	{ offsetof(struct mr_real, inotify_init), "inotify_init" },
	{ offsetof(struct mr_real, inotify_init1), "inotify_init1" },
	{ offsetof(struct mr_real, fanotify_init), "fanotify_init" },
	{ offsetof(struct mr_real, memfd_create), "memfd_create" },
	{ offsetof(struct mr_real, pidfd_open), "pidfd_open" },
	{ offsetof(struct mr_real, pidfd_getfd), "pidfd_getfd" },
	{ offsetof(struct mr_real, open_by_handle_at), "open_by_handle_at" },
	{ offsetof(struct mr_real, posix_openpt), "posix_openpt" },
	{ offsetof(struct mr_real, getpt), "getpt" },
	{ offsetof(struct mr_real, openpty), "openpty" },
	{ offsetof(struct mr_real, shm_open), "shm_open" },
	{ offsetof(struct mr_real, fopen), "fopen" },
	{ offsetof(struct mr_real, freopen), "freopen" },
	{ offsetof(struct mr_real, tmpfile), "tmpfile" },
	{ offsetof(struct mr_real, mkstemp), "mkstemp" },
	{ offsetof(struct mr_real, mkostemp), "mkostemp" },
	{ offsetof(struct mr_real, mkstemps), "mkstemps" },
	{ offsetof(struct mr_real, mkostemps), "mkostemps" },
	{ offsetof(struct mr_real, opendir), "opendir" },
	{ offsetof(struct mr_real, setmntent), "setmntent" },
	{ offsetof(struct mr_real, mq_open), "mq_open" },
	{ offsetof(struct mr_real, open_tree), "open_tree" },
	{ offsetof(struct mr_real, fsopen), "fsopen" },
	{ offsetof(struct mr_real, fspick), "fspick" },
	{ offsetof(struct mr_real, fsmount), "fsmount" },
	{ offsetof(struct mr_real, login_tty), "login_tty" },
	{ offsetof(struct mr_real, rresvport), "rresvport" },
	{ offsetof(struct mr_real, rresvport_af), "rresvport_af" },
	{ offsetof(struct mr_real, rcmd), "rcmd" },
	{ offsetof(struct mr_real, rcmd_af), "rcmd_af" },
	{ offsetof(struct mr_real, rexec), "rexec" },
	{ offsetof(struct mr_real, rexec_af), "rexec_af" },
};

/* A lazy slot whose function libc lacks (NULL means "not looked up"). */
#define ABSENT ((void *)1)

void *mr_real_lookup(void **slot, const char *name)
{
	void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	bool was_resolving = resolving;

	if (fn)
		return fn == ABSENT ? NULL : fn;
	/* A lookup may run inside another (dlsym's allocator opening a
	 * file): the table's own accessors take raw system calls meanwhile. */
	resolving = true;
	fn = dlsym(RTLD_NEXT, name);
	resolving = was_resolving;
	__atomic_store_n(slot, fn ? fn : ABSENT, __ATOMIC_RELEASE);
	return fn;
}

void *mr_real_lazy(size_t offset)
{
	void **slot = (void **)((char *)&real + offset);
	void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (fn)
		return fn == ABSENT ? NULL : fn;
	mr_real_init();
	for (size_t i = 0; i < sizeof(lazy_names) / sizeof(lazy_names[0]);
	     i++)
		if (lazy_names[i].offset == offset)
			return mr_real_lookup(slot, lazy_names[i].name);
	/* Resolved by mr_real_init(), or libc lacks it. */
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
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
