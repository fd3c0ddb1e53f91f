/*
 * The real libc functions, resolved once with dlsym(RTLD_NEXT).
 *
 * Calls can arrive before the constructor ran and while dlsym itself is
 * running (it may allocate, and an allocator may open files). Each accessor
 * therefore falls back to the raw system call until resolution is complete,
 * so no caller ever sees a NULL pointer.
 */
#ifndef MR_REAL_H
#define MR_REAL_H

#include <dirent.h>
#include <fcntl.h>
#include <mntent.h>
#include <mqueue.h>
#include <netdb.h>
#include <pthread.h>
#include <pty.h>
#include <utmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wordexp.h>

struct stat;

struct mr_real {
	int (*open)(const char *path, int flags, ...);
	int (*openat)(int dirfd, const char *path, int flags, ...);
	ssize_t (*read)(int fd, void *buf, size_t count);
	ssize_t (*pread)(int fd, void *buf, size_t count, off_t off);
	ssize_t (*readv)(int fd, const struct iovec *iov, int iovcnt);
	ssize_t (*preadv)(int fd, const struct iovec *iov, int iovcnt,
			  off_t off);
	ssize_t (*preadv2)(int fd, const struct iovec *iov, int iovcnt,
			   off_t off, int flags);
	off_t (*lseek)(int fd, off_t off, int whence);
	int (*close)(int fd);
	int (*close_range)(unsigned int first, unsigned int last, int flags);
	void (*closefrom)(int lowfd);
	int (*dup)(int fd);
	int (*dup2)(int oldfd, int newfd);
	int (*dup3)(int oldfd, int newfd, int flags);
	int (*fcntl)(int fd, int cmd, ...);
	__sighandler_t (*signal)(int sig, __sighandler_t handler);
	int (*pthread_sigmask)(int how, const sigset_t *set, sigset_t *old);
	pid_t (*fork)(void);
	pid_t (*fork_underscore)(void); /* _Fork */
	pid_t (*vfork)(void);
	int (*execve)(const char *path, char *const argv[], char *const envp[]);
	int (*execv)(const char *path, char *const argv[]);
	int (*execvp)(const char *file, char *const argv[]);
	int (*execvpe)(const char *file, char *const argv[],
		       char *const envp[]);
	int (*fexecve)(int fd, char *const argv[], char *const envp[]);
	int (*execveat)(int dirfd, const char *path, char *const argv[],
			char *const envp[], int flags);
	int (*posix_spawn)(pid_t *pid, const char *path, const void *actions,
			   const void *attr, char *const argv[],
			   char *const envp[]);
	int (*posix_spawnp)(pid_t *pid, const char *file, const void *actions,
			    const void *attr, char *const argv[],
			    char *const envp[]);
	int (*system)(const char *command);
	void *(*popen)(const char *command, const char *type);
	void *(*fdopen)(int fd, const char *mode);
	ssize_t (*sendfile)(int out_fd, int in_fd, off_t *offset, size_t count);
	ssize_t (*splice)(int fd_in, off_t *off_in, int fd_out, off_t *off_out,
			  size_t len, unsigned int flags);
	ssize_t (*copy_file_range)(int fd_in, off_t *off_in, int fd_out,
				   off_t *off_out, size_t len,
				   unsigned int flags);
	int (*lockf)(int fd, int cmd, off_t len);
	void (*siglongjmp)(void *env, int val);
	__sighandler_t (*bsd_signal)(int sig, __sighandler_t handler);
	__sighandler_t (*ssignal)(int sig, __sighandler_t handler);
	__sighandler_t (*sysv_signal)(int sig, __sighandler_t handler);
	__sighandler_t (*sigset)(int sig, __sighandler_t disp);
	int (*sighold)(int sig);
	int (*sigrelse)(int sig);
	int (*sigblock)(int mask);
	int (*sigsetmask)(int mask);
	int (*setcontext)(const void *ucp);
	int (*swapcontext)(void *oucp, const void *ucp);
	void (*longjmp_chk)(void *env, int val);
	int (*sigaction)(int sig, const struct sigaction *act,
			 struct sigaction *oldact);
	int (*daemon)(int nochdir, int noclose);
	void (*exit_underscore)(int status) __attribute__((noreturn)); /* _exit */
	__typeof__(forkpty) *forkpty;
	__typeof__(wordexp) *wordexp;

	/* Calls that write at, or report, the file offset. */
	__typeof__(write) *write;
	__typeof__(writev) *writev;
	__typeof__(pwritev2) *pwritev2;
	__typeof__(vdprintf) *vdprintf;
	int (*vdprintf_chk)(int fd, int flag, const char *format, va_list ap);
	int (*ioctl)(int fd, unsigned long request, ...);
	__typeof__(ftruncate) *ftruncate;
	__typeof__(fallocate) *fallocate;
	__typeof__(fdopendir) *fdopendir;

	/* Calls that create fds (the table drops what it held for them). */
	__typeof__(pthread_cancel) *pthread_cancel;
	__typeof__(socket) *socket;
	__typeof__(socketpair) *socketpair;
	__typeof__(accept) *accept;
	__typeof__(accept4) *accept4;
	__typeof__(recvmsg) *recvmsg;
	__typeof__(recvmmsg) *recvmmsg;
	__typeof__(pipe) *pipe;
	__typeof__(pipe2) *pipe2;
	__typeof__(eventfd) *eventfd;
	__typeof__(signalfd) *signalfd;
	__typeof__(timerfd_create) *timerfd_create;
	__typeof__(epoll_create) *epoll_create;
	__typeof__(epoll_create1) *epoll_create1;
	__typeof__(inotify_init) *inotify_init;
	__typeof__(inotify_init1) *inotify_init1;
	__typeof__(fanotify_init) *fanotify_init;
	__typeof__(memfd_create) *memfd_create;
	__typeof__(pidfd_open) *pidfd_open;
	__typeof__(pidfd_getfd) *pidfd_getfd;
	__typeof__(open_by_handle_at) *open_by_handle_at;
	__typeof__(posix_openpt) *posix_openpt;
	__typeof__(getpt) *getpt;
	__typeof__(openpty) *openpty;
	__typeof__(shm_open) *shm_open;
	__typeof__(fopen) *fopen;
	__typeof__(freopen) *freopen;
	__typeof__(tmpfile) *tmpfile;
	__typeof__(mkstemp) *mkstemp;
	__typeof__(mkostemp) *mkostemp;
	__typeof__(mkstemps) *mkstemps;
	__typeof__(mkostemps) *mkostemps;
	__typeof__(opendir) *opendir;
	__typeof__(setmntent) *setmntent;
	mqd_t (*mq_open)(const char *name, int oflag, ...);
	__typeof__(open_tree) *open_tree;
	__typeof__(fsopen) *fsopen;
	__typeof__(fspick) *fspick;
	__typeof__(fsmount) *fsmount;
	__typeof__(login_tty) *login_tty;
	__typeof__(rresvport) *rresvport;
	__typeof__(rresvport_af) *rresvport_af;
	__typeof__(rcmd) *rcmd;
	__typeof__(rcmd_af) *rcmd_af;
	__typeof__(rexec) *rexec;
	__typeof__(rexec_af) *rexec_af;
};

/* Resolve every pointer; idempotent, safe to call from any entry point. */
void mr_real_init(void);

/*
 * Thin accessors: the resolved function, or the raw system call while it is
 * not resolved yet. Each returns what libc would (-1 and errno on error).
 */
int mr_real_open(const char *path, int flags, mode_t mode);
int mr_real_openat(int dirfd, const char *path, int flags, mode_t mode);
ssize_t mr_real_read(int fd, void *buf, size_t count);
ssize_t mr_real_pread(int fd, void *buf, size_t count, off_t off);
ssize_t mr_real_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t mr_real_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t mr_real_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
			int flags);
off_t mr_real_lseek(int fd, off_t off, int whence);
int mr_real_close(int fd);
int mr_real_close_range(unsigned int first, unsigned int last, int flags);
void mr_real_closefrom(int lowfd);
int mr_real_dup(int fd);
int mr_real_dup2(int oldfd, int newfd);
int mr_real_dup3(int oldfd, int newfd, int flags);
int mr_real_fcntl(int fd, int cmd, void *arg);
int mr_real_sigaction(int sig, const struct sigaction *act,
		      struct sigaction *oldact);
__sighandler_t mr_real_signal(int sig, __sighandler_t handler);
/* pthread_sigmask: 0 or an error number, as pthread_sigmask returns. */
int mr_real_sigmask(int how, const sigset_t *set, sigset_t *old);

/*
 * The process functions, for the wrappers in interpose.c: the resolved
 * pointer, never NULL once mr_real_init() ran in a dynamically linked
 * program (each exists in glibc 2.34+). Each sets errno on NULL.
 */
const struct mr_real *mr_real_table(void);

/* The field at offset of struct mr_real, looked up on first use for the
 * functions real.c resolves lazily (NULL: libc lacks it). */
void *mr_real_lazy(size_t offset);

/* libc's function name, looked up once into *slot (NULL: libc lacks it). */
void *mr_real_lookup(void **slot, const char *name);

/*
 * Calls mmapread makes on its own behalf: raw system calls, so that no other
 * interposer sees them and they never recurse into this library.
 */
int mr_sys_fstat(int fd, struct stat *ret_st);
off_t mr_sys_lseek(int fd, off_t off, int whence);
ssize_t mr_sys_write(int fd, const void *buf, size_t count);

/*
 * pread/preadv2 as system calls, which are no cancellation points: for the
 * reads that redo a reservation's bytes after the call's own cancellation
 * point has passed, where being cancelled would lose the reservation.
 */
ssize_t mr_sys_pread(int fd, void *buf, size_t count, off_t off);
ssize_t mr_sys_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		       int flags);

#endif
