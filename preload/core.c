/*
 * The core: what each interposed call does with the fd table.
 *
 * A tracked description moves through three states (mr_desc.h). While
 * WATCHING, calls go to the kernel and the policy counts small requests;
 * once it maps the file, read/pread/readv/lseek are answered in user space
 * and the kernel's offset is stale until something hands it back
 * (surrender()). Anything unusual (huge counts, flags, reads past the
 * mapped end) is given to the kernel at the description's offset, so the
 * kernel decides every edge case and the program sees its exact answer.
 *
 * Every function returns a result or -errno and leaves errno alone on
 * success; interpose.c does the conversion.
 */
#include "mr_core.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mr_atomic.h"
#include "mr_config.h"
#include "mr_desc.h"
#include "mr_fdtable.h"
#include "mr_guard.h"
#include "mr_policy.h"
#include "mr_real.h"
#include "mr_stats.h"
#include "mr_stdio.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1u << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif

#define PAGE 4096u

/* A hand-back that is no fallback (the fd is being closed). */
#define MR_NOT_A_FALLBACK MMAPREAD_FB_COUNT

/* Returned by the serving functions: the description is the kernel's now,
 * so the caller drops its reference and makes the real call. */
#define MR_PASS (-100000)

/* Spins before a wait gives up: longer than any decision or hand-back
 * takes, short enough not to matter when the thread waited for is the one
 * this signal handler interrupted. */
#define SETTLE_SPINS 20000

/* At most this many files mapped at once, well within vm.max_map_count
 * (65530 by default) so that the program's own mappings never run out. */
#define MAPPINGS_MAX 4096u

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

static long kernel_result(long ret)
{
	return ret < 0 ? -errno : ret;
}

/* MMAPREAD_TRACE, once, at load (libunwind sets itself up here). */
static void start_tracing(void)
{
	static const char line[] =
		"mmapread: MMAPREAD_TRACE is ignored: this build has no "
		"libunwind, or libunwind.so.8 cannot be loaded\n";
	static atomic_bool started;

	if (!mr_config()->trace || atomic_exchange(&started, true))
		return;
	if (mr_trace_set_mask((uint32_t)mr_config()->trace) == -EOPNOTSUPP)
		mr_sys_write(2, line, sizeof(line) - 1);
}

/* Verify or read traces on: the hot path stands aside. */
static atomic_bool fast_path_off;
/* pthread_cancel() was called: a single thread may have cancelled itself,
 * so its reads test for it (and the single-threaded hot path, which skips
 * the test, stands aside). */
static atomic_bool cancel_seen;

/* The hot path leaves verification and read traces to the full path. */
static void note_fast_path_switches(void)
{
	if (mr_config()->verify || mr_trace_wants(MR_TRACE_READ))
		atomic_store_explicit(&fast_path_off, true,
				      memory_order_relaxed);
}

void mr_core_init(void)
{
	int saved_errno = errno;

	mr_real_init();
	mr_config_init();
	start_tracing();
	mr_stats_note_stderr();
	mr_stats_note_start();
	note_fast_path_switches();
	errno = saved_errno;
}

__attribute__((constructor)) static void mr_constructor(void)
{
	mr_core_init();
}

__attribute__((destructor)) static void mr_destructor(void)
{
	mr_stats_report_at_exit();
	mr_stdio_surrender_all();
}

/*
 * fork and the spawns hand every mapped description back before the child
 * exists. A decision in another thread must not map a file in between: the
 * child would get that offset in our memory and both processes would read
 * the same bytes. The fork announces itself in forks_pending and waits for
 * the decisions already past their check; a decision that sees a fork
 * pending does not map this time (a Dekker pair, sequentially consistent).
 */
static atomic_int forks_pending;
static atomic_int decisions_in_flight;
/* Moves at every gate enter and leave: an fd opened across a fork (its
 * open before the fork, its table entry after the walk) sees it move. */
static _Atomic uint64_t fork_epoch;
static __thread bool settling_here; /* this thread decides or hands back */

void mr_fork_gate_enter(void)
{
	atomic_fetch_add(&fork_epoch, 1);
	atomic_fetch_add(&forks_pending, 1);
	/* This thread's own decision (a handler forked) cannot finish
	 * first; others take a few system calls. */
	for (int spin = 0; !settling_here && spin < 1000000 &&
			   atomic_load(&decisions_in_flight);
	     spin++)
		__builtin_ia32_pause();
}

void mr_fork_gate_leave(void)
{
	atomic_fetch_sub(&forks_pending, 1);
	atomic_fetch_add(&fork_epoch, 1);
}

void mr_fork_gate_reset_in_child(void)
{
	atomic_store(&forks_pending, 0);
	atomic_store(&decisions_in_flight, 0);
}

static void give_up(struct mr_desc *desc, enum mmapread_fallback reason);

/* ---- opening and sharing ---------------------------------------------- */

/*
 * The kernel's name for fd's file (one readlink of /proc/self/fd/N) into
 * buf, NUL-terminated; false when it has none to give.
 */
static bool fd_path(int fd, char *buf, size_t cap)
{
	char link[32];
	long len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	mr_count(MR_C_SYS_READLINK, 1);
	len = syscall(SYS_readlink, link, buf, cap - 1);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	return true;
}

/*
 * MMAPREAD_INCLUDE/EXCLUDE judge the file's absolute path: the one given,
 * or the kernel's name for the fd (only when rules are set).
 */
static bool path_allowed(int fd, const char *path)
{
	const struct mr_config *cfg = mr_config();
	char target[4096];

	if (!cfg->include[0] && !cfg->exclude[0])
		return true;
	if (path[0] != '/' && fd_path(fd, target, sizeof(target)))
		path = target;
	return mr_config_path_allowed(cfg, path);
}

/*
 * Start tracking a new fd, or drop what the table held for its number.
 * epoch: fork_epoch read before the call that created fd. If a fork began
 * since, the child may hold the fd while the hand-back walk never saw its
 * entry: the description starts as shared, passing through.
 */
static void track_new_fd(int fd, int flags, const char *path, uint64_t epoch)
{
	struct mr_desc *desc;

	if (mr_config()->disable || (flags & O_DIRECTORY)) {
		mr_fdtable_forget(fd);
		return;
	}
	/* O_RDWR is served too: writes through it hand the offset back
	 * (mr_offset_call), and the shared mapping shows what they wrote. */
	if ((flags & O_PATH) || (flags & O_ACCMODE) == O_WRONLY ||
	    (flags & O_ACCMODE) == O_ACCMODE) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_ACCESS_MODE);
		return;
	}
	if (flags & O_DIRECT) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_O_DIRECT);
		return;
	}
	if (!path_allowed(fd, path)) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_EXCLUDED);
		return;
	}
	desc = mr_desc_new(flags);
	if (!desc || !mr_fdtable_install(fd, desc)) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_TABLE_FULL);
	} else if (atomic_load(&forks_pending) ||
		   atomic_load(&fork_epoch) != epoch) {
		give_up(desc, MMAPREAD_FB_SHARED);
	}
	if (desc)
		mr_desc_put(desc);
}

/* newfd now shares oldfd's description: mirror that in the table. */
static void track_dup(int oldfd, int newfd)
{
	struct mr_desc *desc = mr_fdtable_acquire(oldfd);

	if (!desc) {
		mr_fdtable_forget(newfd);
		return;
	}
	if (!mr_fdtable_install(newfd, desc)) {
		mr_fdtable_forget(newfd);
		mr_count_fallback(MMAPREAD_FB_TABLE_FULL);
	}
	mr_desc_put(desc);
}

int mr_open(const char *path, int flags, mode_t mode)
{
	uint64_t epoch = atomic_load(&fork_epoch);
	int fd = mr_real_open(path, flags, mode);

	if (fd < 0)
		return -errno;
	track_new_fd(fd, flags, path, epoch);
	return fd;
}

int mr_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	uint64_t epoch = atomic_load(&fork_epoch);
	int fd = mr_real_openat(dirfd, path, flags, mode);

	if (fd < 0)
		return -errno;
	track_new_fd(fd, flags, path, epoch);
	return fd;
}

int mr_dup(int fd)
{
	int newfd = mr_real_dup(fd);

	if (newfd < 0)
		return -errno;
	track_dup(fd, newfd);
	return newfd;
}


static void hand_back_for_close(int fd, struct mr_desc *desc, void *arg);
static void surrender(int fd, struct mr_desc *desc,
		      enum mmapread_fallback reason);

/*
 * dup2/dup3 close newfd and give its number to oldfd's description inside
 * the kernel, at once. A read of newfd that overlaps the call, in another
 * thread or a signal handler, may reach the kernel on either side of it,
 * whatever the table says when it looks: so both descriptions hand their
 * offsets back first if mapped (the kernel's offset is then right for
 * both), and newfd's entry goes before the kernel's dup2. Mapping a file
 * and then dup2'ing it onto another fd thus costs its reads' service (its
 * preads stay served). A refused call (oldfd not open: one fcntl, only
 * when the table holds newfd or oldfd) changes nothing; one refused in a
 * race puts newfd's description back.
 */
static struct mr_desc *prepare_dup_target(int oldfd, int newfd)
{
	struct mr_desc *target = mr_fdtable_acquire(newfd);
	struct mr_desc *source = mr_fdtable_acquire(oldfd);
	int saved_errno = errno;
	bool refused;

	if (!target && !source)
		return NULL;
	refused = mr_real_fcntl(oldfd, F_GETFD, NULL) < 0;
	errno = saved_errno;
	if (!refused) {
		if (source && (atomic_load(&source->state) == MR_MAPPED ||
			       atomic_load(&source->state) == MR_HANDING_BACK))
			surrender(oldfd, source, MMAPREAD_FB_KERNEL_USE);
		if (target)
			hand_back_for_close(newfd, target, NULL);
		mr_fdtable_forget(newfd);
	}
	if (source)
		mr_desc_put(source);
	if (refused && target) {
		mr_desc_put(target);
		return NULL;
	}
	return target;
}

static void finish_dup_target(int newfd, struct mr_desc *target, int ret)
{
	if (!target)
		return;
	if (ret < 0)
		mr_fdtable_install(newfd, target);
	mr_desc_put(target);
}

int mr_dup2(int oldfd, int newfd)
{
	struct mr_desc *target = NULL;
	int ret, err;

	if (oldfd != newfd)
		target = prepare_dup_target(oldfd, newfd);
	ret = mr_real_dup2(oldfd, newfd);
	err = errno;
	finish_dup_target(newfd, target, ret);
	if (ret < 0)
		return -err;
	if (oldfd != newfd)
		track_dup(oldfd, newfd);
	return ret;
}

int mr_dup3(int oldfd, int newfd, int flags)
{
	struct mr_desc *target = NULL;
	int ret, err;

	if (oldfd != newfd && !(flags & ~O_CLOEXEC))
		target = prepare_dup_target(oldfd, newfd);
	ret = mr_real_dup3(oldfd, newfd, flags);
	err = errno;
	finish_dup_target(newfd, target, ret);
	if (ret < 0)
		return -err;
	track_dup(oldfd, newfd);
	return ret;
}

/* ---- handing the offset back to the kernel ---------------------------- */



/*
 * Wait (bounded) until no decision and no hand-back is under way. Returns
 * false on timeout: the thread being waited for may be the very one this
 * signal handler interrupted, which cannot finish until we return.
 */
static bool wait_settled(struct mr_desc *desc)
{
	for (unsigned int spin = 0;; spin++) {
		bool deciding = atomic_load(&desc->deciding);
		int state = atomic_load(&desc->state);

		if (!deciding && state != MR_HANDING_BACK)
			return true;
		/*
		 * A hand-back runs with signals blocked and waits for nothing,
		 * so it is always another thread's, and it ends: wait for it
		 * however long that thread is off the CPU (a reader that went
		 * ahead would read at the stale kernel offset). A decision may
		 * be this thread's own, interrupted by this signal handler: the
		 * wait for it is bounded, and the caller gives up instead.
		 */
		if (state != MR_HANDING_BACK &&
		    (settling_here || spin >= SETTLE_SPINS))
			return false;
		if (spin >= SETTLE_SPINS) {
			mr_count(MR_C_SYS_OTHER, 1);
			sched_yield();
		}
		else
			__builtin_ia32_pause();
	}
}

/*
 * From now on the kernel owns this description's offset. If we held it,
 * freeze the offset word (no reservation can follow), write it back, and
 * only then let calls through: a reader that lost the race waits for the
 * write-back instead of reading at a stale kernel offset. A caller that
 * knows the kernel's answer for its own reservation passes that as
 * `replacement` for the value `expected`. The mapping stays until the last
 * reference goes, since another thread may be copying from it right now.
 */
struct blocked_mask {
	bool blocked;
	sigset_t old;
};

static void block_signals(struct blocked_mask *ret)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	mr_count(MR_C_SYS_SIGACTION, 1);
	ret->blocked = mr_real_sigmask(SIG_BLOCK, &all, &ret->old) == 0;
}

static void unblock_signals(const struct blocked_mask *saved)
{
	mr_count(MR_C_SYS_SIGACTION, 1);
	mr_real_sigmask(SIG_SETMASK, &saved->old, NULL);
}

static void surrender_at(int fd, struct mr_desc *desc,
			 enum mmapread_fallback reason, uint64_t expected,
			 uint64_t replacement)
{
	int was = atomic_load(&desc->state);
	struct blocked_mask saved_mask = { .blocked = false };
	bool was_settling;
	uint64_t word;
	/* O_DIRECT has alignment rules, and a shrunken file a mapping that
	 * is too long: then pread()s must go to the kernel too, even if the
	 * description was handed back before for another reason. */
	bool positional_ok = reason != MMAPREAD_FB_O_DIRECT &&
			     reason != MMAPREAD_FB_TRUNCATED;

	if (!positional_ok)
		atomic_store(&desc->positional_ok, false);
	/* A signal handler of this thread that reads the fd in the middle of
	 * the write-back could neither wait for it nor find the kernel's
	 * offset right: the hand-back is made with signals blocked (SIGBUS
	 * and SIGSEGV, which nothing here raises, stay as they are). */
	if (was == MR_MAPPED)
		block_signals(&saved_mask);
	do {
		if (was == MR_PASSTHROUGH)
			goto out;
		/*
		 * Another thread is writing the offset back, through the
		 * number it was called with: our caller may give that number
		 * to another file (dup2) or close it next, and the write-back
		 * would then land on that file. Wait for it; a hand-back runs
		 * with signals blocked, so it is never this thread's own.
		 */
		if (was == MR_HANDING_BACK) {
			wait_settled(desc);
			goto out;
		}
	} while (!atomic_compare_exchange_weak(
		&desc->state, &was,
		was == MR_MAPPED ? MR_HANDING_BACK : MR_PASSTHROUGH));
	if (reason != MR_NOT_A_FALLBACK)
		mr_count_fallback(reason);
	if (was != MR_MAPPED)
		goto out;
	/* Restored, not cleared: a signal handler may have interrupted a
	 * decision of this thread's, which is still under way. */
	was_settling = settling_here;
	settling_here = true;
	word = atomic_fetch_or(&desc->offset, MR_OFFSET_FROZEN);
	mr_sys_lseek(fd,
		     (off_t)(word == expected ? replacement
					      : mr_offset_of(word)),
		     SEEK_SET);
	mr_count(MR_C_SYS_LSEEK, 1);
	atomic_store(&desc->positional_ok, positional_ok);
	atomic_store_explicit(&desc->state, MR_PASSTHROUGH,
			      memory_order_release);
	settling_here = was_settling;
out:
	if (saved_mask.blocked)
		unblock_signals(&saved_mask);
}

static void surrender(int fd, struct mr_desc *desc,
		      enum mmapread_fallback reason)
{
	surrender_at(fd, desc, reason, MR_OFFSET_FROZEN, 0);
}

/* Surrender, and tell the caller to make the call through the kernel. */
static ssize_t to_kernel(int fd, struct mr_desc *desc,
			 enum mmapread_fallback reason)
{
	surrender(fd, desc, reason);
	return MR_PASS;
}

static bool shrank(int fd, const struct mr_desc *desc);

/* Whether pread()s may still be served from desc->map (then it is valid). */
static bool has_mapping(struct mr_desc *desc)
{
	int state = atomic_load_explicit(&desc->state, memory_order_acquire);

	return state == MR_MAPPED || state == MR_HANDING_BACK ||
	       (state == MR_PASSTHROUGH && atomic_load(&desc->positional_ok));
}

static void hand_back(int fd, struct mr_desc *desc, void *reason)
{
	surrender(fd, desc, *(enum mmapread_fallback *)reason);
}

void mr_sync_offset(int fd)
{
	int saved_errno = errno;
	struct mr_desc *desc = mr_fdtable_acquire(fd);
	uint64_t word;

	if (!desc)
		return;
	if (atomic_load(&desc->state) == MR_MAPPED) {
		word = atomic_load(&desc->offset);
		if (!(word & MR_OFFSET_FROZEN)) {
			mr_sys_lseek(fd, (off_t)mr_offset_of(word), SEEK_SET);
			mr_count(MR_C_SYS_LSEEK, 1);
		}
	}
	mr_desc_put(desc);
	errno = saved_errno;
}

void mr_hand_back(int fd, enum mmapread_fallback reason)
{
	int saved_errno = errno;
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	if (desc) {
		surrender(fd, desc, reason);
		mr_desc_put(desc);
	}
	errno = saved_errno;
}

void mr_give_to_libc(int fd)
{
	int saved_errno = errno;

	mr_hand_back(fd, MMAPREAD_FB_KERNEL_USE);
	mr_fdtable_forget(fd);
	errno = saved_errno;
}

/* ---- for stdio.c (mr_stdio.h) ------------------------------------------ */

static void drop_fd(int fd);

uint64_t mr_stdio_epoch(void)
{
	return atomic_load(&fork_epoch);
}

bool mr_core_stdio_track(int fd, const char *path, uint64_t epoch)
{
	int saved_errno = errno, state;
	struct mr_desc *desc;
	bool tracked = false;

	if (path)
		track_new_fd(fd, O_RDONLY, path, epoch);
	desc = mr_fdtable_acquire(fd);
	if (desc) {
		state = atomic_load(&desc->state);
		tracked = state == MR_WATCHING || state == MR_MAPPED;
		if (tracked)
			atomic_store(&desc->stdio, true);
		mr_desc_put(desc);
	}
	errno = saved_errno;
	return tracked;
}

void mr_core_adopt_offset(int fd, off_t pos)
{
	int saved_errno = errno;
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	/* Only a mapped description holds its own offset; otherwise the
	 * kernel's is the one, and libc just set it. */
	if (desc && atomic_load(&desc->state) == MR_MAPPED)
		mr_lseek(fd, pos, SEEK_SET);
	if (desc)
		mr_desc_put(desc);
	errno = saved_errno;
}

void mr_core_drop_fd(int fd)
{
	int saved_errno = errno;

	drop_fd(fd);
	errno = saved_errno;
}

void mr_forget_fd(int fd)
{
	int saved_errno = errno;

	mr_fdtable_forget(fd);
	errno = saved_errno;
}

void mr_after_resize(int fd)
{
	int saved_errno = errno;
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	if (desc && has_mapping(desc) && shrank(fd, desc))
		surrender(fd, desc, MMAPREAD_FB_TRUNCATED);
	if (desc)
		mr_desc_put(desc);
	errno = saved_errno;
}

void mr_hand_back_all(enum mmapread_fallback reason)
{
	int saved_errno = errno;

	mr_fdtable_for_each(hand_back, &reason);
	errno = saved_errno;
}

/* Record locks whose range starts at the current offset. */
static bool is_lock_command(int cmd)
{
	switch (cmd) {
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		return true;
	default:
		return false;
	}
}

int mr_fcntl(int fd, int cmd, void *arg)
{
	int ret;

	/* A lock may be relative to SEEK_CUR: the kernel needs our offset.
	 * The program's struct is not read here (the kernel checks it). */
	if (is_lock_command(cmd))
		mr_sync_offset(fd);
	ret = mr_real_fcntl(fd, cmd, arg);
	if (ret < 0)
		return -errno;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		track_dup(fd, ret);
		break;
	case F_SETFL:
		/* O_DIRECT reads have alignment rules a copy would ignore. */
		if ((long)arg & O_DIRECT)
			mr_hand_back(fd, MMAPREAD_FB_O_DIRECT);
		break;
	default:
		break;
	}
	return ret;
}

/* ---- closing ---------------------------------------------------------- */

/*
 * Between emptying a slot and the kernel's close, another thread or a
 * signal handler may still read the fd, through the kernel: a mapped
 * description's offset goes back to the kernel first (not counted as a
 * fallback). Its other fds then read through the kernel too (their preads
 * stay served): exactness costs that for a file mapped, dup'ed, and
 * closed under one name while still read under another.
 */
static void hand_back_for_close(int fd, struct mr_desc *desc, void *arg)
{
	int state = atomic_load(&desc->state);

	(void)arg;
	/* One under way in another thread is waited for (surrender_at()). */
	if (state == MR_MAPPED || state == MR_HANDING_BACK)
		surrender(fd, desc, MR_NOT_A_FALLBACK);
}

static void drop_fd(int fd)
{
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	if (!desc)
		return;
	hand_back_for_close(fd, desc, NULL);
	mr_desc_put(desc);
	mr_fdtable_forget(fd);
}

struct fd_range {
	unsigned int first, last;
};

static void hand_back_in_range(int fd, struct mr_desc *desc, void *arg)
{
	const struct fd_range *range = arg;

	if ((unsigned int)fd >= range->first && (unsigned int)fd <= range->last)
		hand_back_for_close(fd, desc, NULL);
}

/*
 * The slot is emptied before the real close: the other order would let a
 * read in another thread be served from the old file's mapping after the
 * kernel gave the number to a new file.
 */
int mr_close(int fd)
{
	drop_fd(fd);
	return mr_real_close(fd) < 0 ? -errno : 0;
}

int mr_close_range(unsigned int first, unsigned int last, int flags)
{
	/* The kernel's own argument checks, made first so that a call it
	 * refuses leaves the table as it was. */
	if (first > last ||
	    ((unsigned int)flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
		return -EINVAL;
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC)) {
		struct fd_range range = { first, last };

		mr_fdtable_for_each(hand_back_in_range, &range);
		mr_fdtable_forget_range(first, last);
	}
	return mr_real_close_range(first, last, flags) < 0 ? -errno : 0;
}

void mr_closefrom(int lowfd)
{
	struct fd_range range = { lowfd < 0 ? 0u : (unsigned int)lowfd, ~0u };

	mr_fdtable_for_each(hand_back_in_range, &range);
	mr_fdtable_forget_range(range.first, range.last);
	mr_real_closefrom(lowfd);
}

static void give_up(struct mr_desc *desc, enum mmapread_fallback reason)
{
	int watching = MR_WATCHING;

	if (atomic_compare_exchange_strong(&desc->state, &watching,
					   MR_PASSTHROUGH))
		mr_count_fallback(reason);
}

/* ---- deciding to map -------------------------------------------------- */

/*
 * Calls that move the kernel's offset while WATCHING announce themselves
 * in inflight, so that the decision never snapshots an offset that a
 * concurrent read is about to change (a Dekker pair with decide()), and
 * re-check the state: a decision may have completed in between.
 */
/* inflight += n (see mr_atomic.h). */
static void inflight_add(struct mr_desc *desc, int n)
{
	mr_add_u32(&desc->inflight, (uint32_t)n, mr_single());
}

static bool watch_enter(struct mr_desc *desc)
{
	inflight_add(desc, 1);
	if (!atomic_load(&desc->deciding) &&
	    atomic_load(&desc->state) == MR_WATCHING)
		return true;
	inflight_add(desc, -1);
	return false;
}

static void watch_leave(struct mr_desc **desc)
{
	inflight_add(*desc, -1);
}

/*
 * A decision this thread cannot wait out (a signal handler interrupted
 * it): give the description to the kernel so the call can go ahead; the
 * decision's own publication will then fail and undo its mapping.
 */
static void settle_or_give_up(struct mr_desc *desc)
{
	int watching = MR_WATCHING;

	if (wait_settled(desc))
		return;
	if (atomic_compare_exchange_strong(&desc->state, &watching,
					   MR_PASSTHROUGH))
		mr_count_fallback(MMAPREAD_FB_INTERRUPTED);
}

static bool pseudo_filesystem(int fd)
{
	struct statfs sfs;

	mr_count(MR_C_SYS_FSTAT, 1);
	if (fstatfs(fd, &sfs) != 0)
		return true;
	switch ((unsigned long)sfs.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case EFIVARFS_MAGIC:
	case BPF_FS_MAGIC:
	case 0x62656570: /* configfs */
	/* FUSE files may be synthetic or direct-I/O: their page cache need
	 * not be what read() returns. */
	case FUSE_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

/*
 * A description that fd 0 refers to while stdin's FILE already holds
 * input: stdio reads fd 0 inside libc at the kernel's offset, which a
 * mapping would leave behind.
 */
static bool stdin_in_use(struct mr_desc *desc)
{
	struct mr_desc *at_zero = mr_fdtable_acquire(0);
	bool in_use;

	if (!at_zero)
		return false;
	in_use = at_zero == desc && stdin && stdin->_IO_read_base;
	mr_desc_put(at_zero);
	return in_use;
}

/* The process's address space now, from /proc/self/statm (raw calls). */
static uint64_t address_space_in_use(void)
{
	char text[64];
	long fd, len;
	uint64_t pages = 0;

	mr_count(MR_C_SYS_OTHER, 3);
	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/statm",
		     O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = syscall(SYS_read, fd, text, sizeof(text) - 1);
	syscall(SYS_close, fd);
	for (long i = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++)
		pages = pages * 10 + (uint64_t)(text[i] - '0');
	return pages * PAGE;
}

/*
 * The byte budget for mappings under RLIMIT_AS (ulimit -v): what we map
 * already plus a quarter of the room the limit leaves now, so that a
 * program sized for its own needs keeps three quarters of its headroom
 * (the program may change the limit at any time: asked at each mapping,
 * which is rare; nothing to ask without a limit). 0: no cap.
 */
static uint64_t mapping_byte_cap(void)
{
	struct rlimit limit;
	uint64_t used;

	mr_count(MR_C_SYS_OTHER, 1);
	if (getrlimit(RLIMIT_AS, &limit) != 0 ||
	    limit.rlim_cur == RLIM_INFINITY)
		return 0;
	used = address_space_in_use();
	if (used >= limit.rlim_cur)
		return 1; /* no room: maps nothing (0 would mean no cap) */
	return mr_desc_budget_bytes() + (limit.rlim_cur - used) / 4;
}

static bool counts_toward_mapping(const struct mr_desc *desc, size_t count)
{
	return mr_policy_counts(count) ||
	       (count && atomic_load_explicit(&desc->stdio,
					      memory_order_relaxed));
}

/* Requests a description shows before the policy looks at its file. */
static uint64_t map_after(const struct mr_desc *desc)
{
	uint64_t after = mr_config()->map_after;

	if (atomic_load_explicit(&desc->stdio, memory_order_relaxed) &&
	    after > MR_POLICY_STDIO_MAP_AFTER)
		return MR_POLICY_STDIO_MAP_AFTER;
	return after;
}

/* Count a small request; true once the policy should look at the file. */
static bool note_request(struct mr_desc *desc, size_t count)
{
	if (!counts_toward_mapping(desc, count))
		return false;
	bool single = mr_single();

	mr_add_u64(&desc->watched_bytes, count, single);
	return mr_add_u32(&desc->watched_reads, 1, single) + 1 >=
	       map_after(desc);
}

/* The report names mapped files by the path the kernel has for the fd. */
static void name_file(int fd, const struct stat *st, struct mr_file_id *ret)
{
	ret->dev = st->st_dev;
	ret->ino = st->st_ino;
	if (!fd_path(fd, ret->path, sizeof(ret->path)))
		snprintf(ret->path, sizeof(ret->path), "(fd %d, inode %lu)", fd,
			 (unsigned long)st->st_ino);
}

/*
 * Examine the file and either map it or give it to the kernel for good.
 * Returns false when another thread got in the way; the caller carries on
 * unmapped and a later call tries again. Keeps errno as it was.
 */
static bool decide(int fd, struct mr_desc *desc, bool positional)
{
	int saved_errno = errno, watching = MR_WATCHING;
	bool was_settling, decided = true;
	struct mr_file_facts facts;
	enum mmapread_fallback reason;
	struct stat st;
	uint32_t reads;
	off_t pos;
	void *map;

	if (atomic_exchange(&desc->deciding, 1))
		return false;
	/* Before the first mapping, even if a library's constructor reads
	 * before ours ran. */
	note_fast_path_switches();
	if (atomic_load(&desc->inflight) != 0) {
		atomic_store(&desc->deciding, 0);
		return false;
	}
	was_settling = settling_here;
	settling_here = true;
	/* No mapping may appear while a fork hands everything back: the
	 * child would get its offset in our memory (see mr_fork_gate). */
	atomic_fetch_add(&decisions_in_flight, 1);
	if (atomic_load(&forks_pending)) {
		decided = false;
		goto done;
	}
	if (atomic_load(&desc->state) != MR_WATCHING)
		goto done;
	mr_count(MR_C_SYS_FSTAT, 1);
	if (mr_sys_fstat(fd, &st) != 0) {
		give_up(desc, MMAPREAD_FB_FSTAT_FAILED);
		goto done;
	}
	reads = atomic_load(&desc->watched_reads);
	facts = (struct mr_file_facts){
		.mode = st.st_mode,
		.size = st.st_size,
		.offset = 0,
		.avg_request = reads ? atomic_load(&desc->watched_bytes) / reads
				     : 0,
		.positional = positional,
		.max_size = mr_config()->max_size,
		.min_size = mr_config()->min_size,
	};
	mr_count(MR_C_SYS_LSEEK, 1);
	pos = mr_sys_lseek(fd, 0, SEEK_CUR);
	if (pos < 0) {
		give_up(desc, MMAPREAD_FB_NOT_REGULAR);
		goto done;
	}
	facts.offset = pos;
	if (!mr_policy_should_map(&facts, &reason)) {
		give_up(desc, reason);
		goto done;
	}
	if (pseudo_filesystem(fd)) {
		give_up(desc, MMAPREAD_FB_PSEUDO_FS);
		goto done;
	}
	if (stdin_in_use(desc)) {
		give_up(desc, MMAPREAD_FB_STDIN_STDIO);
		goto done;
	}
	if (mr_guard_arm() != 0) {
		give_up(desc, MMAPREAD_FB_MMAP_FAILED);
		goto done;
	}
	if (!mr_desc_budget_take((size_t)st.st_size, MAPPINGS_MAX,
				 mapping_byte_cap())) {
		give_up(desc, MMAPREAD_FB_BUDGET);
		goto done;
	}
	mr_count(MR_C_SYS_MMAP, 1);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		mr_desc_budget_return((size_t)st.st_size);
		give_up(desc, MMAPREAD_FB_MMAP_FAILED);
		goto done;
	}
	/*
	 * fstat, lseek and mmap asked the fd's number, which another thread
	 * may have given to another file meanwhile (dup2, or close and an
	 * open): the slot is emptied before that, so their answers were
	 * about this description only if the slot still holds it now.
	 */
	/* Uncounted: whoever emptied the slot counted its reason (often a
	 * signal handler that met this decision and gave the description
	 * to the kernel: fb.interrupted). */
	if (!mr_fdtable_holds(fd, desc)) {
		munmap(map, (size_t)st.st_size);
		mr_count(MR_C_SYS_MUNMAP, 1);
		mr_desc_budget_return((size_t)st.st_size);
		decided = false;
		goto done;
	}
	desc->map = map;
	desc->map_len = (size_t)st.st_size;
	name_file(fd, &st, &desc->file);
	desc->file_known = true;
	atomic_store(&desc->offset, (uint64_t)pos);
	/* Published only if nobody handed the description back meanwhile
	 * (a fork, fdopen or sendfile in another thread). */
	if (!atomic_compare_exchange_strong_explicit(
		    &desc->state, &watching, MR_MAPPED, memory_order_release,
		    memory_order_relaxed)) {
		munmap(map, (size_t)st.st_size);
		mr_count(MR_C_SYS_MUNMAP, 1);
		mr_desc_budget_return((size_t)st.st_size);
		desc->map = NULL;
		desc->map_len = 0;
		goto done;
	}
	mr_count(MR_C_FILES_MAPPED, 1);
	mr_count(MR_C_BYTES_MAPPED, (uint64_t)st.st_size);
	if (mr_trace_wants(MR_TRACE_MAP))
		mr_trace_record(MR_TRACE_MAP, 0);
done:
	atomic_fetch_sub(&decisions_in_flight, 1);
	atomic_store(&desc->deciding, 0);
	settling_here = was_settling;
	errno = saved_errno;
	return decided;
}

enum read_kind { READ_PLAIN, READ_POSITIONAL, READ_VECTOR, READ_VECTOR_POS };

struct read_call {
	enum read_kind kind;
	void *buf;
	size_t count;
	const struct iovec *iov;
	int iovcnt;
	int64_t pos;
	int flags;
};

static bool moves_offset(const struct read_call *call)
{
	return call->kind == READ_PLAIN || call->kind == READ_VECTOR ||
	       (call->kind == READ_VECTOR_POS && call->pos == -1);
}

static ssize_t pass_through(int fd, const struct read_call *call)
{
	ssize_t ret;

	switch (call->kind) {
	case READ_PLAIN:
		ret = mr_real_read(fd, call->buf, call->count);
		break;
	case READ_POSITIONAL:
		ret = mr_real_pread(fd, call->buf, call->count, call->pos);
		break;
	case READ_VECTOR:
		ret = mr_real_readv(fd, call->iov, call->iovcnt);
		break;
	default:
		ret = mr_real_preadv2(fd, call->iov, call->iovcnt, call->pos,
				      call->flags);
		break;
	}
	return ret < 0 ? -errno : ret;
}

/*
 * An offset-moving call that only the kernel can answer, asked at the
 * description's offset as a positional call. Calls the kernel refuses
 * (a bad buffer or iovec, too many vectors) never move an offset and are
 * exact as they are; a call that reads something moves ours by a
 * compare-and-swap, and if another reader got in between, the description
 * goes to the kernel for the calls after this one.
 */
static ssize_t kernel_at_offset(int fd, struct mr_desc *desc,
				const struct read_call *call,
				enum mmapread_fallback reason)
{
	uint64_t word = atomic_load(&desc->offset);
	ssize_t ret;

	if (word & MR_OFFSET_FROZEN)
		return MR_PASS;
	if (call->kind == READ_PLAIN)
		ret = mr_real_pread(fd, call->buf, call->count,
				    (off_t)mr_offset_of(word));
	else
		ret = mr_real_preadv2(fd, call->iov, call->iovcnt,
				      (off_t)mr_offset_of(word), call->flags);
	if (ret < 0)
		return -errno;
	mr_count_fallback(reason);
	if (ret > 0 && !atomic_compare_exchange_strong(&desc->offset, &word,
							word + (uint64_t)ret))
		surrender(fd, desc, reason);
	return ret;
}

/*
 * A read that reserved bytes of the offset, up to the word end, got excess
 * fewer of them (the file shrank, or the buffer faulted): give them back.
 * The offset word is the sum of what readers reserved and relative seeks
 * moved, so subtracting the difference stays right when others reserved or
 * seeked after this read, where setting "start + what it got" would undo
 * them; an absolute seek since (a new generation in the word) came after
 * the read, and its target stands. If a hand-back froze the word with the
 * whole reservation in it, the kernel's offset moves back instead (SEEK_CUR
 * adds to whatever readers did since), with signals blocked so that no
 * handler of this thread can give the number to another file in between,
 * and only while the fd is still this description's.
 */
static void give_back(int fd, struct mr_desc *desc, uint64_t end,
		      uint64_t excess)
{
	uint64_t word = atomic_load(&desc->offset);
	struct blocked_mask saved;

	do {
		if ((word & MR_OFFSET_GEN) != (end & MR_OFFSET_GEN))
			return;
		if (word & MR_OFFSET_FROZEN) {
			wait_settled(desc);
			block_signals(&saved);
			if (mr_fdtable_holds(fd, desc)) {
				mr_sys_lseek(fd, -(off_t)excess, SEEK_CUR);
				mr_count(MR_C_SYS_LSEEK, 1);
			}
			if (saved.blocked)
				unblock_signals(&saved);
			return;
		}
		/* Never below zero: an offset under what this read reserved
		 * was set by a seek, whatever the generation says. */
		if (mr_offset_of(word) < excess)
			return;
	} while (!atomic_compare_exchange_weak(&desc->offset, &word,
					       word - excess));
}

/* ---- serving from the mapping ----------------------------------------- */

/*
 * Whether the bytes just served up to end are really in the file. After a
 * truncation, the tail of the page holding the new end of file reads as
 * zeros and raises no fault, so a zero last byte is checked: by touching
 * the next page (which faults if the file now ends before it), or, at the
 * end of the mapping, with fstat. Other bytes are proven by the copy itself.
 */
static bool tail_is_file(int fd, const struct mr_desc *desc, uint64_t end,
			 unsigned char last_byte)
{
	uint64_t next_page = (end + PAGE - 1) / PAGE * PAGE;
	unsigned char byte;
	struct stat st;

	if (__builtin_expect(last_byte != 0, 1))
		return true;
	if (next_page < desc->map_len)
		return mr_copy_guarded(&byte, desc->map + next_page, 1) == 0;
	mr_count(MR_C_SYS_FSTAT, 1);
	if (mr_sys_fstat(fd, &st) == 0 && (uint64_t)st.st_size >= end)
		return true;
	/*
	 * fstat asks the fd's number, which another thread may have given
	 * to another file (dup2) or closed since this read reserved its
	 * bytes; the kernel would answer this read from the file it started
	 * on, whose bytes were copied. The slot is emptied before the number
	 * changes, so only a slot that still holds desc after the call
	 * vouches for its answer.
	 */
	return !mr_fdtable_holds(fd, desc);
}

/* Whether the file shrank below the mapping (then it must pass through). */
static bool shrank(int fd, const struct mr_desc *desc)
{
	struct stat st;

	mr_count(MR_C_SYS_FSTAT, 1);
	return mr_sys_fstat(fd, &st) != 0 ||
	       (uint64_t)st.st_size < desc->map_len;
}

/*
 * A copy for [pos, pos + reserved) faulted, or its tail is not in the file
 * any more: the kernel answers the same request (data, a short count, or
 * EFAULT for a bad buffer), and the offset ends where the kernel's read
 * would have left it. A file that shrank passes through from now on.
 */
static ssize_t recover(int fd, struct mr_desc *desc, ssize_t kernel_ret,
		       int kernel_errno, bool at_offset, uint64_t end,
		       size_t reserved)
{
	uint64_t got = kernel_ret > 0 ? (uint64_t)kernel_ret : 0;

	/* The kernel read at most what was reserved: same count, and a
	 * file that grew meanwhile only shows past the mapping. */
	if (at_offset && got < reserved)
		give_back(fd, desc, end, reserved - got);
	if (shrank(fd, desc)) {
		if (mr_trace_wants(MR_TRACE_SIGBUS))
			mr_trace_record(MR_TRACE_SIGBUS, 0);
		surrender(fd, desc, MMAPREAD_FB_TRUNCATED);
	} else {
		mr_count_fallback(MMAPREAD_FB_BAD_BUFFER);
	}
	return kernel_ret < 0 ? -kernel_errno : kernel_ret;
}

/*
 * The call stack of a verify mismatch, one line per frame under the
 * mismatch's: rare, so glibc's backtrace() (libgcc's unwinder) and dladdr
 * do, whether or not MMAPREAD_TRACE is on. mmapread's own frames are left
 * out, so the first line is the program's call.
 */
static void tell_call_trace(void)
{
	void *ips[24];
	int n = backtrace(ips, 24);
	Dl_info self, info;
	char line[512];
	int len;

	if (!dladdr((void *)tell_call_trace, &self))
		self.dli_fbase = NULL;
	for (int i = 0; i < n; i++) {
		if (!dladdr(ips[i], &info))
			info.dli_fname = NULL, info.dli_fbase = NULL;
		if (info.dli_fbase && info.dli_fbase == self.dli_fbase)
			continue;
		if (info.dli_sname)
			len = snprintf(line, sizeof(line),
				       "mmapread:   at %s+0x%lx (%s)\n",
				       info.dli_sname,
				       (unsigned long)((uintptr_t)ips[i] -
						       (uintptr_t)info.dli_saddr),
				       info.dli_fname);
		else if (info.dli_fname)
			len = snprintf(line, sizeof(line),
				       "mmapread:   at %s+0x%lx\n",
				       info.dli_fname,
				       (unsigned long)((uintptr_t)ips[i] -
						       (uintptr_t)info.dli_fbase));
		else
			len = snprintf(line, sizeof(line), "mmapread:   at %p\n",
				       ips[i]);
		if (len > 0)
			mr_sys_write(2, line, (size_t)len < sizeof(line)
						      ? (size_t)len
						      : sizeof(line) - 1);
	}
}

/*
 * MMAPREAD_VERIFY, for users who doubt the mapping: read the bytes just
 * served again with a real pread and compare. A difference (or a program
 * thread changing its buffer meanwhile) is counted and told in one line.
 */
static void verify_served(int fd, uint64_t pos, const unsigned char *buf,
			  size_t n)
{
	unsigned char check[4096];
	char line[160];
	int len;

	mr_count(MR_C_VERIFY_CHECKED, 1);
	for (size_t done = 0; done < n;) {
		size_t part = n - done < sizeof(check) ? n - done
						       : sizeof(check);
		long got = syscall(SYS_pread64, fd, check, part, pos + done);
		size_t at = 0;

		if (got == (long)part && memcmp(check, buf + done, part) == 0) {
			done += part;
			continue;
		}
		while (got > 0 && at < (size_t)got && check[at] == buf[done + at])
			at++;
		mr_count(MR_C_VERIFY_MISMATCHES, 1);
		len = snprintf(line, sizeof(line),
			       "mmapread: MMAPREAD_VERIFY: fd %d: %zu bytes "
			       "served at offset %llu differ from pread at "
			       "offset %llu\n",
			       fd, n, (unsigned long long)pos,
			       (unsigned long long)(pos + done + at));
		if (len > 0)
			mr_sys_write(2, line, (size_t)len);
		tell_call_trace();
		return;
	}
}

static void verify_served_iov(int fd, uint64_t pos, const struct iovec *iov,
			      size_t n)
{
	for (int i = 0; n; i++) {
		size_t part = iov[i].iov_len < n ? iov[i].iov_len : n;

		if (part)
			verify_served(fd, pos, iov[i].iov_base, part);
		pos += part;
		n -= part;
	}
}

#ifdef MR_TEST_SEED_WRONG_BYTE
/* A seeded bug, only in tests/report's copy of the library: the byte at
 * file offset 4096 is served wrong, for MMAPREAD_VERIFY (and the
 * walk-through's comparison) to find. */
static void seed_wrong_byte(void *buf, uint64_t pos, size_t count)
{
	if (pos <= 4096 && 4096 < pos + count)
		((unsigned char *)buf)[4096 - pos] ^= 0x5a;
}
#endif

/* The copy from the mapping; true when it went through (tail unchecked). */
static inline bool copy_from_map(const struct mr_desc *desc, void *buf,
				 uint64_t pos, size_t count)
{
	if (mr_copy_guarded(buf, desc->map + pos, count) != 0)
		return false;
#ifdef MR_TEST_SEED_WRONG_BYTE
	seed_wrong_byte(buf, pos, count);
#endif
	return true;
}

static int copy_out(int fd, const struct mr_desc *desc, void *buf,
		    uint64_t pos, size_t n)
{
	if (!copy_from_map(desc, buf, pos, n))
		return -1;
	return tail_is_file(fd, desc, pos + n,
			    ((const unsigned char *)buf)[n - 1])
		       ? 0
		       : -1;
}

/*
 * Reserve [pos, pos + want) of the offset, so that concurrent readers of
 * one description each get their own bytes, as the kernel gives them.
 * false: the offset is frozen or the span is not inside the mapping.
 */
static bool reserve(struct mr_desc *desc, size_t want, uint64_t *ret_word)
{
	uint64_t word = atomic_load(&desc->offset);

	do {
		if ((word & MR_OFFSET_FROZEN) ||
		    !mr_span_inside((int64_t)mr_offset_of(word), want,
				    desc->map_len))
			return false;
	} while (!atomic_compare_exchange_weak(&desc->offset, &word,
					       word + want));
	*ret_word = word;
	return true;
}

static ssize_t serve_read(int fd, struct mr_desc *desc,
			  const struct read_call *call)
{
	void *buf = call->buf;
	size_t count = call->count;
	size_t want = mr_clamp_rw(count);
	uint64_t word, pos;
	ssize_t ret;

	/* The kernel checks the buffer's range even for a count of 0. */
	if (!mr_user_range_ok(buf, count))
		return kernel_at_offset(fd, desc, call,
					MMAPREAD_FB_UNUSUAL_CALL);
	if (count == 0)
		return 0;
	if (!reserve(desc, want, &word))
		return to_kernel(fd, desc, MMAPREAD_FB_PAST_MAPPING);
	pos = mr_offset_of(word);
	if (copy_out(fd, desc, buf, pos, want) != 0) {
		ret = mr_sys_pread(fd, buf, count, (off_t)pos);
		return recover(fd, desc, ret, errno, true, word + want, want);
	}
	mr_count_served(&desc->counters, MR_SERVED_READ, want);
	if (__builtin_expect(mr_config()->verify, 0))
		verify_served(fd, pos, buf, want);
	return (ssize_t)want;
}

/*
 * The fast paths' end when the copy faulted or its last byte was zero:
 * what serve_read() and serve_pread() do after their copy, answering as
 * libc does (-1 and errno; errno untouched on success).
 */
static ssize_t served_slowly(int fd, struct mr_desc *desc, void *buf,
			     size_t count, uint64_t pos, bool copied,
			     bool at_offset, uint64_t end)
{
	int saved_errno = errno;
	ssize_t ret;

	if (copied && tail_is_file(fd, desc, pos + count,
				   ((unsigned char *)buf)[count - 1])) {
		mr_count_served(&desc->counters,
				at_offset ? MR_SERVED_READ : MR_SERVED_PREAD,
				count);
		ret = (ssize_t)count;
	} else {
		ret = mr_sys_pread(fd, buf, count, (off_t)pos);
		ret = recover(fd, desc, ret, errno, at_offset, end, count);
	}
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	errno = saved_errno;
	return ret;
}

/*
 * The hot path: a read() or pread() of a mapped file in the common case is
 * a table load, a reference, an offset reservation, the copy and three
 * counters. Whatever is unusual (an fd above the direct slots, another
 * state, a thread that may not fault, a count of 0 or beyond the mapping,
 * verify or read traces on, a cancellation asked for in a single thread)
 * goes to slow() before anything changed, and the full path starts over.
 * While the process has one thread, nothing here is a locked instruction
 * (see mr_desc.h).
 */
void mr_note_cancel(void)
{
	atomic_store_explicit(&cancel_seen, true, memory_order_relaxed);
}

/* The description for the hot path, with a reference, or NULL. */
static inline struct mr_desc *fast_acquire(int fd, struct mr_desc *desc,
					  bool single)
{
	int state;

	/* Pool memory stays readable: look before taking a reference that
	 * the slow path would only drop and take again. */
	state = atomic_load_explicit(&desc->state, memory_order_relaxed);
	if (state != MR_MAPPED && !(single && state == MR_WATCHING))
		return NULL;
	if (atomic_load_explicit(&fast_path_off, memory_order_relaxed) ||
	    (single &&
	     atomic_load_explicit(&cancel_seen, memory_order_relaxed)) ||
	    !mr_desc_tryget_fast(desc, single))
		return NULL;
	/* The object may have been recycled between the load and the
	 * reference. */
	if (__builtin_expect(atomic_load_explicit(&mr_fdtable_direct[fd],
						  memory_order_acquire) !=
				     desc,
			     0)) {
		mr_desc_put_fast(desc, single);
		return NULL;
	}
	return desc;
}

/*
 * Whether [pos, pos + count) can be copied from desc's mapping: count is
 * neither 0 nor beyond what the kernel would read at once (so nothing below
 * overflows: a frozen offset has bit 63 set and fails the span test), and
 * the buffer is a user address range.
 */
static inline bool fast_span_ok(const struct mr_desc *desc, const void *buf,
				size_t count, uint64_t pos)
{
	return count - 1 < MR_MAX_RW_COUNT &&
	       (uintptr_t)buf <= MR_USER_ADDR_END - count &&
	       pos + count <= desc->map_len;
}

/*
 * Reserve [offset, offset + count) of desc's offset for a copy from its
 * mapping, the offset it held in *ret_word; false, with nothing changed,
 * when the copy cannot be made on the hot path.
 */
static inline __attribute__((always_inline)) bool
fast_reserve(struct mr_desc *desc, const void *buf, size_t count, bool single,
	     uint64_t *ret_word)
{
	uint64_t word = atomic_load_explicit(&desc->offset, memory_order_relaxed);

	*ret_word = word;
	return __builtin_expect(atomic_load_explicit(&desc->state,
						     memory_order_acquire) ==
					MR_MAPPED,
				1) &&
	       mr_guard_copy_known_allowed() &&
	       fast_span_ok(desc, buf, count, mr_offset_of(word)) &&
	       mr_offset_move(desc, word, word + count, single);
}

static inline __attribute__((always_inline)) void
fast_count(struct mr_desc *desc, enum mr_served_kind kind, size_t count,
	   bool single)
{
	mr_bump_fast(&desc->counters.served[kind], 1, single);
	mr_bump_fast(&desc->counters.bytes, count, single);
	mr_bump_fast(&desc->counters.sizes[mr_size_bucket(count)], 1, single);
}

/*
 * A read() of a description the policy watches, in a single-threaded
 * process (no cancellation can unwind it: cancel_seen is set once
 * pthread_cancel() was called): what dispatch() does for it, counted and
 * marked in flight, the kernel answering. The request that reaches
 * MMAPREAD_MAP_AFTER, and any the decision is busy with, take the full
 * path, which decides.
 */
static __attribute__((noinline)) ssize_t
watched_read(int fd, struct mr_desc *desc, void *buf, size_t count,
	     mr_read_fn *slow)
{
	ssize_t ret;

	if (counts_toward_mapping(desc, count) &&
	    atomic_load_explicit(&desc->watched_reads, memory_order_relaxed) +
			    1 >=
		    map_after(desc)) {
		mr_desc_put_fast(desc, true);
		return slow(fd, buf, count);
	}
	if (!watch_enter(desc)) {
		mr_desc_put_fast(desc, true);
		return slow(fd, buf, count);
	}
	note_request(desc, count);
	ret = mr_real_read(fd, buf, count);
	inflight_add(desc, -1);
	mr_desc_put_fast(desc, true);
	return ret;
}

/*
 * mr_read_fast() in general: more than one thread, or a description that
 * is not simply mapped. *ret_fast (when not NULL) says the copy was served
 * here.
 */
static __attribute__((noinline)) ssize_t
read_fast_general(int fd, void *buf, size_t count, mr_read_fn *slow,
		  bool *ret_fast)
{
	bool single = __libc_single_threaded, copied;
	struct mr_desc *desc;
	uint64_t word, pos;

	if (!mr_fdtable_direct_ok(fd))
		return slow(fd, buf, count);
	desc = atomic_load_explicit(&mr_fdtable_direct[fd],
				    memory_order_acquire);
	if (!desc)
		return mr_real_read(fd, buf, count);
	/* Before any reference or reservation: cancellation unwinds. */
	if (!single)
		pthread_testcancel();
	desc = fast_acquire(fd, desc, single);
	if (!desc)
		return slow(fd, buf, count);
	if (atomic_load_explicit(&desc->state, memory_order_acquire) ==
		    MR_WATCHING &&
	    single)
		return watched_read(fd, desc, buf, count, slow);
	if (!fast_reserve(desc, buf, count, single, &word)) {
		mr_desc_put_fast(desc, single);
		return slow(fd, buf, count);
	}
	pos = mr_offset_of(word);
	copied = copy_from_map(desc, buf, pos, count);
	if (__builtin_expect(!copied || ((unsigned char *)buf)[count - 1] == 0,
			     0)) {
		ssize_t ret = served_slowly(fd, desc, buf, count, pos, copied,
					    true, word + count);

		mr_desc_put_fast(desc, single);
		return ret;
	}
	fast_count(desc, MR_SERVED_READ, count, single);
	mr_desc_put_fast(desc, single);
	if (ret_fast)
		*ret_fast = true;
	return (ssize_t)count;
}

/* The reference read_fast() took, given back, and the full path. */
static __attribute__((noinline)) ssize_t
put_and_read_slowly(int fd, struct mr_desc *desc, void *buf, size_t count,
		    mr_read_fn *slow)
{
	mr_desc_put_fast(desc, true);
	return slow(fd, buf, count);
}

/* served_slowly() for read_fast(), which then gives its reference back. */
static __attribute__((noinline)) ssize_t
served_slowly_put(int fd, struct mr_desc *desc, void *buf, size_t count,
		  uint64_t end_word, bool copied)
{
	ssize_t ret = served_slowly(fd, desc, buf, count,
				    mr_offset_of(end_word) - count, copied,
				    true, end_word);

	mr_desc_put_fast(desc, true);
	return ret;
}

/* The last reference, given back after a served read. */
static __attribute__((noinline)) ssize_t released_after(struct mr_desc *desc,
							size_t count)
{
	mr_desc_release(desc);
	return (ssize_t)count;
}

/*
 * A sequential reader's next read() starts where this one ended, and
 * would start with the latency of memory: the hardware prefetcher does not
 * cross into the next page. Asking for the next bytes' first cache lines
 * now hides it; the streamer takes the rest. More lines stall this copy on
 * the CPU's fill buffers, and reads under 512 bytes mostly stay inside
 * the lines already fetched. Measured over a 256 MiB file in 4 KiB folios:
 * - a getline loop (stdio refills of 4 KiB): 162 ms without, 156-157 ms
 *   with 512 or 1024 bytes, 160 ms with the whole 4 KiB, 164 with 128;
 * - read() of 4 KiB: 37.3 ms without, 33-34 ms with 512 to 2048 bytes,
 *   36.9 with 256; read() of 512 bytes: unchanged (45-51 ms).
 * A prefetch never faults, past the end of the file or mapping included.
 */
#define PREFETCH_BYTES 512

static inline void prefetch_next(const unsigned char *next)
{
	for (size_t done = 0; done < PREFETCH_BYTES; done += 64)
		__builtin_prefetch(next + done, 0, 3);
}

/*
 * mr_read_fast() itself: the case that matters, one thread reading a
 * mapped file, with everything else handed to read_fast_general() by a
 * tail call. The copy is called from inline assembly that keeps the
 * caller's registers (mr_copy_guarded_inline()) and every other way out is
 * a tail call, so this saves no registers of its own: what is left is the
 * table load, the reference, the offset, the copy and the counters. The
 * checks and their order are read_fast_general()'s with single true.
 * *ret_fast (when not NULL) says the copy was served here.
 */
static inline __attribute__((always_inline)) ssize_t
read_fast(int fd, void *buf, size_t count, mr_read_fn *slow, bool *ret_fast)
{
	unsigned char *end = buf;
	struct mr_desc *desc;
	uint64_t word, pos;
	uint32_t refs;
	int state;

	if (!__libc_single_threaded || !mr_fdtable_direct_ok(fd))
		return read_fast_general(fd, buf, count, slow, ret_fast);
	desc = atomic_load_explicit(&mr_fdtable_direct[fd],
				    memory_order_acquire);
	if (!desc)
		return mr_real_read(fd, buf, count);
	state = atomic_load_explicit(&desc->state, memory_order_relaxed);
	if ((state != MR_MAPPED && state != MR_WATCHING) ||
	    atomic_load_explicit(&fast_path_off, memory_order_relaxed) ||
	    atomic_load_explicit(&cancel_seen, memory_order_relaxed))
		return read_fast_general(fd, buf, count, slow, ret_fast);
	/* fast_acquire() with single true, spelt out: its failure path gives
	 * the reference back by a call, which cost this path a second saved
	 * register and 4 instructions; here that is a tail call. */
	refs = atomic_load_explicit(&desc->refs, memory_order_relaxed);
	if (!refs || !mr_cas_u32(&desc->refs, &refs, refs + 1, true))
		return read_fast_general(fd, buf, count, slow, ret_fast);
	/* The object may have been recycled between the load and the
	 * reference (a signal handler closing fd). */
	if (atomic_load_explicit(&mr_fdtable_direct[fd],
				 memory_order_acquire) != desc)
		return put_and_read_slowly(fd, desc, buf, count, slow);
	/* Most files opened are only ever watched: small ones read whole. */
	if (atomic_load_explicit(&desc->state, memory_order_acquire) ==
	    MR_WATCHING)
		return watched_read(fd, desc, buf, count, slow);
	if (!fast_reserve(desc, buf, count, true, &word))
		return put_and_read_slowly(fd, desc, buf, count, slow);
	pos = mr_offset_of(word);
	if (__builtin_expect(!mr_copy_guarded_inline(&end, desc->map + pos,
						     count),
			     0))
		return served_slowly_put(fd, desc, buf, count, word + count,
					 false);
#ifdef MR_TEST_SEED_WRONG_BYTE
	seed_wrong_byte(buf, pos, count);
#endif
	if (__builtin_expect(end[-1] == 0, 0))
		return served_slowly_put(fd, desc, buf, count, word + count,
					 true);
	fast_count(desc, MR_SERVED_READ, count, true);
	if (ret_fast)
		*ret_fast = true;
	if (count >= PREFETCH_BYTES)
		prefetch_next(desc->map + pos + count);
	if (__builtin_expect(mr_add_u32(&desc->refs, (uint32_t)-1, true) == 1,
			     0))
		return released_after(desc, count);
	return (ssize_t)count;
}

ssize_t mr_read_fast(int fd, void *buf, size_t count, mr_read_fn *slow)
{
	return read_fast(fd, buf, count, slow, NULL);
}

/* For stdio.c: a refill, as the program's read() would go. */
static __thread bool stdio_slow_served;

/* read()'s full path, noting whether the mapping answered. */
static ssize_t stdio_slow_read(int fd, void *buf, size_t count)
{
	struct mr_desc *desc = mr_fdtable_acquire(fd);
	uint64_t before = 0;
	ssize_t ret;

	if (desc)
		before = atomic_load_explicit(
			&desc->counters.served[MR_SERVED_READ],
			memory_order_relaxed);
	ret = mr_read(fd, buf, count);
	stdio_slow_served = desc && atomic_load_explicit(
					    &desc->counters.served[MR_SERVED_READ],
					    memory_order_relaxed) != before;
	if (desc)
		mr_desc_put(desc);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

ssize_t mr_core_stdio_read(int fd, void *buf, size_t count, bool *ret_served)
{
	bool fast = false;
	ssize_t ret;

	stdio_slow_served = false;
	ret = read_fast(fd, buf, count, stdio_slow_read, &fast);
	*ret_served = fast || stdio_slow_served;
	return ret < 0 ? -errno : ret;
}

ssize_t mr_pread_fast(int fd, void *buf, size_t count, off_t off,
		      mr_pread_fn *slow)
{
	bool single = __libc_single_threaded, copied;
	struct mr_desc *desc;
	uint64_t pos = (uint64_t)off;

	if (!mr_fdtable_direct_ok(fd))
		return slow(fd, buf, count, off);
	desc = atomic_load_explicit(&mr_fdtable_direct[fd],
				    memory_order_acquire);
	if (!desc)
		return mr_real_pread(fd, buf, count, off);
	if (!single)
		pthread_testcancel();
	desc = fast_acquire(fd, desc, single);
	if (!desc)
		return slow(fd, buf, count, off);
	if (__builtin_expect(atomic_load_explicit(&desc->state,
						  memory_order_acquire) !=
				     MR_MAPPED,
			     0) ||
	    !mr_guard_copy_known_allowed() || off < 0 ||
	    !fast_span_ok(desc, buf, count, pos)) {
		mr_desc_put_fast(desc, single);
		return slow(fd, buf, count, off);
	}
	copied = copy_from_map(desc, buf, pos, count);
	if (__builtin_expect(!copied || ((unsigned char *)buf)[count - 1] == 0,
			     0)) {
		ssize_t ret = served_slowly(fd, desc, buf, count, pos, copied,
					    false, 0);

		mr_desc_put_fast(desc, single);
		return ret;
	}
	fast_count(desc, MR_SERVED_PREAD, count, single);
	mr_desc_put_fast(desc, single);
	return (ssize_t)count;
}

static ssize_t serve_pread(int fd, struct mr_desc *desc, void *buf,
			   size_t count, int64_t pos)
{
	size_t want = mr_clamp_rw(count);
	ssize_t ret;

	if (!mr_user_range_ok(buf, count)) {
		mr_count_fallback(MMAPREAD_FB_UNUSUAL_CALL);
		return MR_PASS;
	}
	if (count == 0)
		return 0;
	if (!mr_span_inside(pos, want, desc->map_len)) {
		mr_count_fallback(MMAPREAD_FB_PAST_MAPPING);
		return MR_PASS;
	}
	if (copy_out(fd, desc, buf, (uint64_t)pos, want) != 0) {
		ret = mr_sys_pread(fd, buf, count, pos);
		return recover(fd, desc, ret, errno, false, 0, want);
	}
	mr_count_served(&desc->counters, MR_SERVED_PREAD, want);
	if (__builtin_expect(mr_config()->verify, 0))
		verify_served(fd, (uint64_t)pos, buf, want);
	return (ssize_t)want;
}

/* Vectors served from the mapping at most; longer arrays go to the kernel. */
#define IOV_SERVED_MAX 64

/*
 * Copy the program's iovec array (through the guarded copy: a bad pointer
 * is the kernel's EFAULT to give, not our crash) and add it up as the
 * kernel would accept it. -1 for anything the kernel might refuse or that
 * is not worth serving: those calls go to the kernel whole.
 */
static ssize_t iov_snapshot(const struct iovec *iov, int iovcnt,
			    struct iovec *ret_copy)
{
	size_t total = 0;

	if (iovcnt <= 0 || iovcnt > IOV_SERVED_MAX ||
	    !mr_user_range_ok(iov, (size_t)iovcnt * sizeof(*iov)) ||
	    mr_copy_guarded(ret_copy, iov, (size_t)iovcnt * sizeof(*iov)) != 0)
		return -1;
	for (int i = 0; i < iovcnt; i++) {
		if (ret_copy[i].iov_len > SSIZE_MAX ||
		    !mr_user_range_ok(ret_copy[i].iov_base,
				      ret_copy[i].iov_len) ||
		    __builtin_add_overflow(total, ret_copy[i].iov_len,
					   &total) ||
		    total > SSIZE_MAX)
			return -1;
	}
	return (ssize_t)total;
}

/* Whether the kernel can read the iovec array (one probe per page). */
static bool iov_array_readable(const struct iovec *iov, int iovcnt)
{
	size_t len = (size_t)iovcnt * sizeof(*iov);
	const unsigned char *p = (const unsigned char *)iov;
	unsigned char probe;

	if (iovcnt <= 0 || !mr_user_range_ok(iov, len))
		return false;
	for (size_t at = 0; at < len; at += PAGE - (((uintptr_t)p + at) % PAGE))
		if (mr_copy_guarded(&probe, p + at, 1) != 0)
			return false;
	return mr_copy_guarded(&probe, p + len - 1, 1) == 0;
}

/* Fill the vectors in order with n bytes from pos. */
static int copy_out_iov(int fd, const struct mr_desc *desc,
			const struct iovec *iov, uint64_t pos, size_t n)
{
	size_t done = 0;
	unsigned char last_byte = 0;

	for (int i = 0; done < n; i++) {
		size_t part = iov[i].iov_len < n - done ? iov[i].iov_len
							: n - done;

		if (!part)
			continue;
		if (mr_copy_guarded(iov[i].iov_base, desc->map + pos + done,
				    part) != 0)
			return -1;
		last_byte = ((const unsigned char *)iov[i].iov_base)[part - 1];
		done += part;
	}
	return tail_is_file(fd, desc, pos + n, last_byte) ? 0 : -1;
}

/*
 * readv/preadv/preadv2 from the mapping; at_offset for the calls that use
 * and move the description's offset. Flags, and anything the kernel might
 * refuse, go to the kernel whole.
 */
static ssize_t serve_readv(int fd, struct mr_desc *desc,
			   const struct read_call *call, bool at_offset)
{
	const struct iovec *iov = call->iov;
	int iovcnt = call->iovcnt;
	int64_t pos = call->pos;
	struct iovec copy[IOV_SERVED_MAX];
	ssize_t total = call->flags ? -1 : iov_snapshot(iov, iovcnt, copy);
	uint64_t start = (uint64_t)pos, word = 0;
	size_t want;
	ssize_t ret;

	if (total <= 0) {
		/* A call the kernel will answer with data moves the offset
		 * by an amount known only afterwards, so no reservation can
		 * keep a concurrent reader off those bytes: the offset goes
		 * back first. */
		if (at_offset && (call->flags || (iovcnt > IOV_SERVED_MAX &&
						  iovcnt <= IOV_MAX)) &&
		    iov_array_readable(iov, iovcnt))
			return to_kernel(fd, desc, MMAPREAD_FB_UNUSUAL_CALL);
		/* What the kernel refuses (EFAULT, EINVAL) moves nothing. */
		if (at_offset)
			return kernel_at_offset(fd, desc, call,
						MMAPREAD_FB_UNUSUAL_CALL);
		mr_count_fallback(MMAPREAD_FB_UNUSUAL_CALL);
		return MR_PASS;
	}
	want = mr_clamp_rw((size_t)total);
	if (at_offset) {
		if (!reserve(desc, want, &word))
			return to_kernel(fd, desc, MMAPREAD_FB_PAST_MAPPING);
		start = mr_offset_of(word);
	} else if (!mr_span_inside(pos, want, desc->map_len)) {
		mr_count_fallback(MMAPREAD_FB_PAST_MAPPING);
		return MR_PASS;
	}
	if (copy_out_iov(fd, desc, copy, start, want) != 0) {
		ret = mr_sys_preadv2(fd, iov, iovcnt, (off_t)start, 0);
		return recover(fd, desc, ret, errno, at_offset, word + want,
			       want);
	}
	mr_count_served(&desc->counters, MR_SERVED_READV, want);
	if (__builtin_expect(mr_config()->verify, 0))
		verify_served_iov(fd, start, copy, want);
	return (ssize_t)want;
}

/* ---- the entry points ------------------------------------------------- */

static ssize_t serve(int fd, struct mr_desc *desc, const struct read_call *call)
{
	/* read() and its kin are cancellation points, served or not; the
	 * cleanup handlers in dispatch() release our reference. */
	pthread_testcancel();
	if (!mr_guard_copy_allowed()) {
		if (moves_offset(call))
			return to_kernel(fd, desc,
					 MMAPREAD_FB_SIGNALS_BLOCKED);
		mr_count_fallback(MMAPREAD_FB_SIGNALS_BLOCKED);
		return MR_PASS;
	}
	switch (call->kind) {
	case READ_PLAIN:
		return serve_read(fd, desc, call);
	case READ_POSITIONAL:
		return serve_pread(fd, desc, call->buf, call->count, call->pos);
	default:
		return serve_readv(fd, desc, call, moves_offset(call));
	}
}

/*
 * A call that moves the kernel's offset while the policy watches. Both the
 * inflight mark and the reference are released by cleanup handlers, which
 * also run when the thread is cancelled inside the (blocking) real call.
 */
static void put_desc(struct mr_desc **desc)
{
	if (*desc)
		mr_desc_put(*desc);
}

static ssize_t watched_call(int fd, struct mr_desc *desc,
			    const struct read_call *call)
{
	struct mr_desc *entered __attribute__((cleanup(watch_leave))) = desc;

	return pass_through(fd, call);
}

static ssize_t dispatch(int fd, const struct read_call *call)
{
	struct mr_desc *desc __attribute__((cleanup(put_desc))) =
		mr_fdtable_acquire(fd);
	bool noted = false;
	ssize_t ret;

	while (desc) {
		switch (atomic_load_explicit(&desc->state,
					     memory_order_acquire)) {
		case MR_MAPPED:
			ret = serve(fd, desc, call);
			if (ret != MR_PASS)
				return ret;
			break;
		case MR_WATCHING:
			/* Sizes of vectored calls are only known from the
			 * kernel's answer: reading the program's iovec array
			 * here could fault where the kernel says EFAULT. */
			if (!noted && (call->kind == READ_PLAIN ||
				       call->kind == READ_POSITIONAL)) {
				noted = true;
				if (note_request(desc, call->count) &&
				    decide(fd, desc,
					   call->kind == READ_POSITIONAL))
					continue;
			}
			if (!moves_offset(call))
				break;
			if (!watch_enter(desc)) {
				settle_or_give_up(desc);
				continue;
			}
			ret = watched_call(fd, desc, call);
			if (ret > 0 && call->kind == READ_VECTOR &&
			    note_request(desc, (size_t)ret))
				decide(fd, desc, false);
			return ret;
		case MR_HANDING_BACK:
			wait_settled(desc);
			break;
		default:
			if (!moves_offset(call) &&
			    atomic_load(&desc->positional_ok)) {
				ret = serve(fd, desc, call);
				if (ret != MR_PASS)
					return ret;
			}
			/* Never mapped, and the kernel's for good: nothing
			 * left to do for this fd, whose calls can go straight
			 * to libc from now on (a pipe, /dev/zero, a file read
			 * in large blocks). */
			if (!desc->map && !atomic_load(&desc->positional_ok))
				mr_fdtable_forget_if(fd, desc);
			break;
		}
		break;
	}
	/* A hand-back may still be writing the offset to the kernel: wait
	 * for it. No reference is held across a call that may block or be
	 * a cancellation point. */
	if (desc && atomic_load(&desc->state) == MR_HANDING_BACK)
		wait_settled(desc);
	/* The kernel finds the fd again by its number: if the number was
	 * given to another description meanwhile (dup2), start over, or the
	 * kernel would read that one at an offset mmapread may hold. */
	if (desc && !mr_fdtable_holds(fd, desc)) {
		put_desc(&desc);
		desc = NULL;
		return dispatch(fd, call);
	}
	put_desc(&desc);
	desc = NULL;
	return pass_through(fd, call);
}

ssize_t mr_read(int fd, void *buf, size_t count)
{
	struct read_call call = { .kind = READ_PLAIN, .buf = buf,
				  .count = count };

	return dispatch(fd, &call);
}

ssize_t mr_pread(int fd, void *buf, size_t count, off_t off)
{
	struct read_call call = { .kind = READ_POSITIONAL, .buf = buf,
				  .count = count, .pos = off };

	if (off < 0)
		return -EINVAL;
	return dispatch(fd, &call);
}

ssize_t mr_readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct read_call call = { .kind = READ_VECTOR, .iov = iov,
				  .iovcnt = iovcnt };

	return dispatch(fd, &call);
}

ssize_t mr_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct read_call call = { .kind = READ_VECTOR_POS, .iov = iov,
				  .iovcnt = iovcnt, .pos = off };

	if (off < 0)
		return kernel_result(mr_real_preadv(fd, iov, iovcnt, off));
	return dispatch(fd, &call);
}

ssize_t mr_preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		   int flags)
{
	struct read_call call = { .kind = off == -1 ? READ_VECTOR
						    : READ_VECTOR_POS,
				  .iov = iov, .iovcnt = iovcnt, .pos = off,
				  .flags = flags };

	/* Flags with an explicit offset, or odd offsets: the kernel's. */
	if (off < -1 || (flags && off != -1))
		return kernel_result(
			mr_real_preadv2(fd, iov, iovcnt, off, flags));
	/* Flags at the current offset: through serve_readv, which hands
	 * the offset to the kernel first. */
	if (flags)
		call.kind = READ_VECTOR_POS;
	return dispatch(fd, &call);
}

/*
 * lseek on a mapped description. SEEK_SET/SEEK_CUR inside the file are
 * answered here; anything else (SEEK_END: the file may have grown,
 * SEEK_DATA/SEEK_HOLE, past the mapping: the filesystem's own limit, a bad
 * whence) is computed by the kernel and then stored here. Every store is a
 * compare-and-swap on the offset word, so a concurrent reservation is never
 * rewound; a tell stores nothing.
 */
static off_t serve_lseek(int fd, struct mr_desc *desc, off_t off, int whence)
{
	uint64_t word = atomic_load(&desc->offset);
	int64_t target;
	off_t ret;
	int err;

	for (;;) {
		if (word & MR_OFFSET_FROZEN)
			return MR_PASS;
		if (whence == SEEK_CUR && off == 0) {
			mr_count_served(&desc->counters, MR_SERVED_LSEEK, 0);
			return (off_t)mr_offset_of(word);
		}
		err = mr_seek_target((int64_t)mr_offset_of(word), off, whence,
				     &target);
		if (err == -EINVAL)
			return -EINVAL;
		if (err == 0 && (uint64_t)target <= desc->map_len) {
			/* Relative moves keep the generation (see
			 * mr_desc.h); absolute ones start a new one. */
			uint64_t moved =
				whence == SEEK_CUR
					? mr_offset_moved(word,
							  (uint64_t)target)
					: mr_offset_reseek(word,
							   (uint64_t)target);

			if (atomic_compare_exchange_weak(&desc->offset, &word,
							 moved)) {
				mr_count_served(&desc->counters, MR_SERVED_LSEEK, 0);
				return target;
			}
			continue;
		}
		ret = err == 0 ? mr_real_lseek(fd, target, SEEK_SET)
			       : mr_real_lseek(fd, off, whence);
		if (ret < 0)
			return -errno;
		if ((uint64_t)ret >= MR_OFFSET_LIMIT) {
			/* Beyond what the offset word holds: the kernel,
			 * which is already there, keeps it from now on. */
			surrender_at(fd, desc, MMAPREAD_FB_UNUSUAL_CALL, word,
				     (uint64_t)ret);
			return ret;
		}
		if (atomic_compare_exchange_strong(
			    &desc->offset, &word,
			    mr_offset_reseek(word, (uint64_t)ret)))
			return ret;
	}
}

off_t mr_lseek(int fd, off_t off, int whence)
{
	struct mr_desc *desc __attribute__((cleanup(put_desc))) =
		mr_fdtable_acquire(fd);
	off_t ret;

	while (desc) {
		switch (atomic_load_explicit(&desc->state,
					     memory_order_acquire)) {
		case MR_MAPPED:
			ret = serve_lseek(fd, desc, off, whence);
			if (ret != MR_PASS)
				return ret;
			break;
		case MR_WATCHING:
			if (!watch_enter(desc)) {
				settle_or_give_up(desc);
				continue;
			}
			ret = kernel_result(mr_real_lseek(fd, off, whence));
			watch_leave(&desc);
			return ret;
		case MR_HANDING_BACK:
			wait_settled(desc);
			break;
		default:
			break;
		}
		break;
	}
	if (desc && atomic_load(&desc->state) == MR_HANDING_BACK)
		wait_settled(desc);
	return kernel_result(mr_real_lseek(fd, off, whence));
}

ssize_t mr_offset_call(int fd, ssize_t (*call)(void *args), void *args)
{
	struct mr_desc *desc __attribute__((cleanup(put_desc))) =
		mr_fdtable_acquire(fd);
	ssize_t ret;

	while (desc) {
		switch (atomic_load_explicit(&desc->state,
					     memory_order_acquire)) {
		case MR_WATCHING:
			/* The kernel owns the offset already: only a decision
			 * must not snapshot it while the call moves it. */
			if (!watch_enter(desc)) {
				settle_or_give_up(desc);
				continue;
			}
			{
				struct mr_desc *entered
					__attribute__((cleanup(watch_leave))) =
						desc;

				ret = call(args);
				return ret < 0 ? -errno : ret;
			}
		case MR_MAPPED:
			surrender(fd, desc, MMAPREAD_FB_KERNEL_USE);
			break;
		default:
			break;
		}
		break;
	}
	if (desc && atomic_load(&desc->state) == MR_HANDING_BACK)
		wait_settled(desc);
	put_desc(&desc);
	desc = NULL;
	ret = call(args);
	return ret < 0 ? -errno : ret;
}

int mr_sigaction(int sig, const struct sigaction *act,
		 struct sigaction *ret_oldact)
{
	if (mr_guard_intercepts(sig))
		return mr_guard_sigaction(sig, act, ret_oldact);
	return mr_guard_other_sigaction(sig, act, ret_oldact);
}

__sighandler_t mr_signal(int sig, __sighandler_t handler, int *ret_errno)
{
	struct sigaction act, old;
	__sighandler_t ret;
	int err;

	if (!mr_guard_intercepts(sig)) {
		ret = mr_real_signal(sig, handler);
		*ret_errno = errno;
		return ret;
	}
	/* glibc's signal(): BSD semantics, the signal blocked in its own
	 * handler, system calls restarted. */
	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, sig);
	act.sa_flags = SA_RESTART;
	err = mr_guard_sigaction(sig, &act, &old);
	if (err) {
		*ret_errno = -err;
		return SIG_ERR;
	}
	return old.sa_handler;
}
