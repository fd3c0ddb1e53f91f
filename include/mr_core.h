/*
 * The operations behind the interposed names.
 *
 * preload/interpose.c calls them (each exported libc name there is a thin
 * wrapper over one of these), and stdio.c the few it needs for streams. Every function returns its result or
 * -errno, and never touches errno on success, so the wrapper alone turns
 * the result into libc's -1/errno convention.
 */
#ifndef MR_CORE_H
#define MR_CORE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Run once from the constructor, and lazily from any entry point. */
void mr_core_init(void);

int mr_open(const char *path, int flags, mode_t mode);
int mr_openat(int dirfd, const char *path, int flags, mode_t mode);
ssize_t mr_read(int fd, void *buf, size_t count);

/*
 * The hot path of read() and pread(), answering as libc does (-1 and
 * errno): a served read, or whatever slow() answers for calls it does not
 * take (before it changed anything).
 */
typedef ssize_t mr_read_fn(int fd, void *buf, size_t count);
typedef ssize_t mr_pread_fn(int fd, void *buf, size_t count, off_t off);
ssize_t mr_read_fast(int fd, void *buf, size_t count, mr_read_fn *slow);
ssize_t mr_pread_fast(int fd, void *buf, size_t count, off_t off,
		      mr_pread_fn *slow);


/* pthread_cancel() was called. */
void mr_note_cancel(void);
ssize_t mr_pread(int fd, void *buf, size_t count, off_t off);
ssize_t mr_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t mr_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t mr_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		   int flags);
off_t mr_lseek(int fd, off_t off, int whence);
int mr_close(int fd);
int mr_close_range(unsigned int first, unsigned int last, int flags);
void mr_closefrom(int lowfd);
int mr_dup(int fd);
int mr_dup2(int oldfd, int newfd);
int mr_dup3(int oldfd, int newfd, int flags);
int mr_fcntl(int fd, int cmd, void *arg);
int mr_sigaction(int sig, const struct sigaction *act,
		 struct sigaction *ret_oldact);
/*
 * Write back every offset held in user space and let those descriptions
 * pass through from now on, counting reason once for each.
 */
#include "mmapread.h"
void mr_hand_back_all(enum mmapread_fallback reason);

/*
 * The same for one fd, whose description the kernel alone will drive from
 * now on (stdio after fdopen reads at the kernel's offset, and fclose closes
 * the fd where no preload sees it).
 */
void mr_hand_back(int fd, enum mmapread_fallback reason);

/*
 * fdopen, fdopendir: libc owns the fd from now on (stdio reads and getdents
 * use the kernel's offset) and fclose/closedir will close it inside libc
 * where no preload sees it: hand the description back and stop tracking
 * the fd, so that no stale entry outlives it.
 */
void mr_give_to_libc(int fd);

/*
 * A call that uses and moves the file offset in the kernel (write, writev,
 * pwritev2 at offset -1, dprintf): the offset goes back to the kernel for
 * good if mmapread held it, and the call runs inside, announced so that no
 * mapping decision in another thread snapshots an offset it is moving.
 * call returns like libc (-1 and errno); this returns the result or -errno.
 */
ssize_t mr_offset_call(int fd, ssize_t (*call)(void *args), void *args);

/* ftruncate or fallocate changed fd's file: a mapping now longer than the
 * file passes through, pread()s included. */
void mr_after_resize(int fd);

/* A call the table does not follow (socket, pipe, fopen...) just created
 * fd: whatever the table still held for that number is stale. */
void mr_forget_fd(int fd);

/*
 * Around fork and the spawns: from enter (before the hand-back walk) to
 * leave (once the child exists) no description gets mapped.
 */
void mr_fork_gate_enter(void);
void mr_fork_gate_leave(void);
void mr_fork_gate_reset_in_child(void);

/* Bring the kernel's offset up to date, for one call that reads it. */
void mr_sync_offset(int fd);

/*
 * For stdio.c (mr_stdio.h). mr_core_stdio_track: start tracking fd, which
 * libc opened at path (NULL: an fd the table may track already), as read
 * by a stdio stream; true when its reads go through the policy.
 * mr_core_stdio_read: read() as the program's would go, *ret_served telling
 * whether the mapping answered. mr_core_adopt_offset: libc moved the
 * kernel's offset to pos itself. mr_core_drop_fd: libc is about to close
 * fd where no wrapper sees it.
 */
bool mr_core_stdio_track(int fd, const char *path, uint64_t epoch);
ssize_t mr_core_stdio_read(int fd, void *buf, size_t count, bool *ret_served);
void mr_core_adopt_offset(int fd, off_t pos);
void mr_core_drop_fd(int fd);

/* signal(): SIG_ERR and *ret_errno on failure. */
__sighandler_t mr_signal(int sig, __sighandler_t handler, int *ret_errno);

#endif
