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

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "mr_config.h"
#include "mr_desc.h"
#include "mr_fdtable.h"
#include "mr_guard.h"
#include "mr_policy.h"
#include "mr_real.h"
#include "mr_stats.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1u << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif

#define PAGE 4096u

static long kernel_result(long ret)
{
	return ret < 0 ? -errno : ret;
}

void mr_core_init(void)
{
	mr_real_init();
	mr_config_init();
	mr_stats_note_stderr();
}

__attribute__((constructor)) static void mr_constructor(void)
{
	mr_core_init();
}

__attribute__((destructor)) static void mr_destructor(void)
{
	mr_stats_report_at_exit();
}

/* ---- opening and sharing ---------------------------------------------- */

/* Start tracking a new fd, or drop what the table held for its number. */
static void track_new_fd(int fd, int flags)
{
	struct mr_desc *desc;

	if (mr_config()->disable || (flags & O_DIRECTORY)) {
		mr_fdtable_forget(fd);
		return;
	}
	if ((flags & O_PATH) || (flags & O_ACCMODE) != O_RDONLY) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_ACCESS_MODE);
		return;
	}
	if (flags & O_DIRECT) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_O_DIRECT);
		return;
	}
	desc = mr_desc_new(flags);
	if (!desc || !mr_fdtable_install(fd, desc)) {
		mr_fdtable_forget(fd);
		mr_count_fallback(MMAPREAD_FB_TABLE_FULL);
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
	int fd = mr_real_open(path, flags, mode);

	if (fd < 0)
		return -errno;
	track_new_fd(fd, flags);
	return fd;
}

int mr_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd = mr_real_openat(dirfd, path, flags, mode);

	if (fd < 0)
		return -errno;
	track_new_fd(fd, flags);
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

int mr_dup2(int oldfd, int newfd)
{
	int ret = mr_real_dup2(oldfd, newfd);

	if (ret < 0)
		return -errno;
	if (oldfd != newfd)
		track_dup(oldfd, newfd);
	return ret;
}

int mr_dup3(int oldfd, int newfd, int flags)
{
	int ret = mr_real_dup3(oldfd, newfd, flags);

	if (ret < 0)
		return -errno;
	track_dup(oldfd, newfd);
	return ret;
}

/* ---- handing the offset back to the kernel ---------------------------- */

/*
 * From now on the kernel owns this description's offset: write ours back
 * if we held it. The mapping stays until the last reference goes, since
 * another thread may be copying from it right now.
 */
static void surrender(int fd, struct mr_desc *desc,
		      enum mmapread_fallback reason)
{
	int was = atomic_exchange(&desc->state, MR_PASSTHROUGH);

	if (was == MR_MAPPED) {
		mr_sys_lseek(fd, atomic_load(&desc->offset), SEEK_SET);
		mr_count(MR_C_SYS_LSEEK, 1);
	}
	if (was != MR_PASSTHROUGH)
		mr_count_fallback(reason);
}

static void hand_back(int fd, struct mr_desc *desc, void *reason)
{
	if (atomic_load(&desc->state) != MR_PASSTHROUGH)
		surrender(fd, desc, *(enum mmapread_fallback *)reason);
}

void mr_sync_offset(int fd)
{
	int saved_errno = errno;
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	if (!desc)
		return;
	if (atomic_load(&desc->state) == MR_MAPPED) {
		mr_sys_lseek(fd, atomic_load(&desc->offset), SEEK_SET);
		mr_count(MR_C_SYS_LSEEK, 1);
	}
	mr_desc_put(desc);
	errno = saved_errno;
}

void mr_hand_back(int fd, enum mmapread_fallback reason)
{
	int saved_errno = errno;
	struct mr_desc *desc = mr_fdtable_acquire(fd);

	if (desc) {
		hand_back(fd, desc, &reason);
		mr_desc_put(desc);
	}
	errno = saved_errno;
}

void mr_hand_back_all(enum mmapread_fallback reason)
{
	int saved_errno = errno;

	mr_fdtable_for_each(hand_back, &reason);
	errno = saved_errno;
}

static void give_up(struct mr_desc *desc, enum mmapread_fallback reason)
{
	atomic_store(&desc->state, MR_PASSTHROUGH);
	mr_count_fallback(reason);
}

/* Record locks whose range starts at the current offset. */
static bool lock_at_offset(int cmd, const void *arg)
{
	switch (cmd) {
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		return arg && ((const struct flock *)arg)->l_whence == SEEK_CUR;
	default:
		return false;
	}
}

int mr_fcntl(int fd, int cmd, void *arg)
{
	struct mr_desc *desc;
	int ret;

	if (lock_at_offset(cmd, arg))
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
		if (!((long)arg & O_DIRECT))
			break;
		desc = mr_fdtable_acquire(fd);
		if (desc) {
			surrender(fd, desc, MMAPREAD_FB_O_DIRECT);
			mr_desc_put(desc);
		}
		break;
	default:
		break;
	}
	return ret;
}

/* ---- closing ---------------------------------------------------------- */

/*
 * The slot is emptied before the real close: the other order would let a
 * concurrent open() get the number back and then lose its fresh entry.
 */
int mr_close(int fd)
{
	mr_fdtable_forget(fd);
	return mr_real_close(fd) < 0 ? -errno : 0;
}

int mr_close_range(unsigned int first, unsigned int last, int flags)
{
	/* The kernel's own argument checks, made first so that a call it
	 * refuses leaves the table as it was. */
	if (first > last ||
	    ((unsigned int)flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
		return -EINVAL;
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC))
		mr_fdtable_forget_range(first, last);
	return mr_real_close_range(first, last, flags) < 0 ? -errno : 0;
}

void mr_closefrom(int lowfd)
{
	mr_fdtable_forget_range(lowfd < 0 ? 0u : (unsigned int)lowfd, ~0u);
	mr_real_closefrom(lowfd);
}

/* ---- deciding to map -------------------------------------------------- */

/*
 * Calls that move the kernel's offset while WATCHING announce themselves
 * in inflight, so that the decision never snapshots an offset that a
 * concurrent read is about to change (a Dekker pair with decide()).
 */
static bool watch_enter(struct mr_desc *desc)
{
	atomic_fetch_add(&desc->inflight, 1);
	if (!atomic_load(&desc->deciding))
		return true;
	atomic_fetch_sub(&desc->inflight, 1);
	return false;
}

static void watch_leave(struct mr_desc *desc)
{
	atomic_fetch_sub(&desc->inflight, 1);
}

/* Wait out another thread's decision; bounded, for signal handlers. */
static void wait_decided(struct mr_desc *desc)
{
	for (int spin = 0; spin < 1000000 && atomic_load(&desc->deciding);
	     spin++)
		__builtin_ia32_pause();
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
		return true;
	default:
		return false;
	}
}

/* Count a small request; true once the policy should look at the file. */
static bool note_request(struct mr_desc *desc, size_t count)
{
	if (!mr_policy_counts(count))
		return false;
	atomic_fetch_add_explicit(&desc->watched_bytes, count,
				  memory_order_relaxed);
	return atomic_fetch_add_explicit(&desc->watched_reads, 1,
					 memory_order_relaxed) + 1 >=
	       MR_POLICY_EXAMINE_AFTER;
}

/*
 * Examine the file and either map it or give it to the kernel for good.
 * Returns false when another thread got in the way; the caller carries on
 * unmapped and a later call tries again.
 */
static bool decide(int fd, struct mr_desc *desc, bool positional)
{
	struct mr_file_facts facts;
	enum mmapread_fallback reason;
	struct stat st;
	uint32_t reads;
	off_t pos;
	void *map;

	if (atomic_exchange(&desc->deciding, 1))
		return false;
	if (atomic_load(&desc->inflight) != 0) {
		atomic_store(&desc->deciding, 0);
		return false;
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
	if (mr_guard_arm() != 0) {
		give_up(desc, MMAPREAD_FB_MMAP_FAILED);
		goto done;
	}
	mr_count(MR_C_SYS_MMAP, 1);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		give_up(desc, MMAPREAD_FB_MMAP_FAILED);
		goto done;
	}
	desc->map = map;
	desc->map_len = (size_t)st.st_size;
	atomic_store(&desc->offset, pos);
	atomic_store_explicit(&desc->state, MR_MAPPED, memory_order_release);
	mr_count(MR_C_FILES_MAPPED, 1);
	mr_count(MR_C_BYTES_MAPPED, (uint64_t)st.st_size);
done:
	atomic_store(&desc->deciding, 0);
	return true;
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
	return mr_sys_fstat(fd, &st) == 0 && (uint64_t)st.st_size >= end;
}

/*
 * A copy faulted or its tail is not in the file any more: let the kernel
 * answer the same request (data, a short count, or EFAULT for a bad
 * buffer), then stop serving the file if it shrank under the mapping.
 */
static ssize_t recover(int fd, struct mr_desc *desc, ssize_t kernel_ret,
		       int kernel_errno)
{
	struct stat st;
	bool shrank;

	mr_count(MR_C_SYS_FSTAT, 1);
	shrank = mr_sys_fstat(fd, &st) != 0 ||
		 (uint64_t)st.st_size < desc->map_len;
	if (shrank)
		surrender(fd, desc, MMAPREAD_FB_TRUNCATED);
	else
		mr_count_fallback(MMAPREAD_FB_BAD_BUFFER);
	return kernel_ret < 0 ? -kernel_errno : kernel_ret;
}

static int copy_out(int fd, const struct mr_desc *desc, void *buf,
		    int64_t pos, size_t n)
{
	if (mr_copy_guarded(buf, desc->map + pos, n) != 0)
		return -1;
	return tail_is_file(fd, desc, (uint64_t)pos + n,
			    ((const unsigned char *)buf)[n - 1])
		       ? 0
		       : -1;
}

/* A read at the description's offset that only the kernel can answer. */
static ssize_t kernel_read_at_offset(int fd, struct mr_desc *desc, void *buf,
				     size_t count,
				     enum mmapread_fallback reason)
{
	int64_t pos = atomic_load(&desc->offset);
	ssize_t ret = mr_real_pread(fd, buf, count, pos);

	if (ret < 0)
		return -errno;
	atomic_fetch_add(&desc->offset, ret);
	mr_count_fallback(reason);
	return ret;
}

static ssize_t serve_read(int fd, struct mr_desc *desc, void *buf,
			  size_t count)
{
	size_t want = mr_clamp_rw(count);
	int64_t pos;
	ssize_t ret;
	int err;

	/* The kernel checks the buffer's range even for a count of 0. */
	if (!mr_user_range_ok(buf, count))
		return kernel_read_at_offset(fd, desc, buf, count,
					     MMAPREAD_FB_UNUSUAL_CALL);
	if (count == 0)
		return 0;
	/* Reserve [pos, pos + want) so concurrent readers of one
	 * description each get their own bytes, as the kernel gives them. */
	pos = atomic_load(&desc->offset);
	do {
		if (!mr_span_inside(pos, want, desc->map_len))
			return kernel_read_at_offset(fd, desc, buf, count,
						     MMAPREAD_FB_PAST_MAPPING);
	} while (!atomic_compare_exchange_weak(&desc->offset, &pos,
					       pos + (int64_t)want));
	if (copy_out(fd, desc, buf, pos, want) != 0) {
		int64_t reserved_end = pos + (int64_t)want;

		ret = mr_real_pread(fd, buf, count, pos);
		err = errno;
		atomic_compare_exchange_strong(&desc->offset, &reserved_end,
					       pos + (ret > 0 ? ret : 0));
		return recover(fd, desc, ret, err);
	}
	mr_count(MR_C_READS_SERVED, 1);
	mr_count(MR_C_BYTES_SERVED, want);
	return (ssize_t)want;
}

static ssize_t serve_pread(int fd, struct mr_desc *desc, void *buf,
			   size_t count, int64_t pos)
{
	size_t want = mr_clamp_rw(count);
	ssize_t ret;

	if (count == 0 && mr_user_range_ok(buf, 0))
		return 0;
	if (!mr_user_range_ok(buf, count) ||
	    !mr_span_inside(pos, want, desc->map_len)) {
		ret = mr_real_pread(fd, buf, count, pos);
		if (ret < 0)
			return -errno;
		mr_count_fallback(mr_user_range_ok(buf, count)
					  ? MMAPREAD_FB_PAST_MAPPING
					  : MMAPREAD_FB_UNUSUAL_CALL);
		return ret;
	}
	if (copy_out(fd, desc, buf, pos, want) != 0) {
		ret = mr_real_pread(fd, buf, count, pos);
		return recover(fd, desc, ret, errno);
	}
	mr_count(MR_C_PREADS_SERVED, 1);
	mr_count(MR_C_BYTES_SERVED, want);
	return (ssize_t)want;
}

/*
 * The byte count of an iovec array as the kernel would accept it, or -1
 * for anything it might refuse (too many vectors, overflow, bad ranges):
 * those calls go to the kernel whole.
 */
static ssize_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	if (iovcnt <= 0 || iovcnt > IOV_MAX)
		return -1;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX ||
		    !mr_user_range_ok(iov[i].iov_base, iov[i].iov_len) ||
		    __builtin_add_overflow(total, iov[i].iov_len, &total) ||
		    total > SSIZE_MAX)
			return -1;
	}
	return (ssize_t)total;
}

/* Fill the vectors in order with n bytes from pos. */
static int copy_out_iov(int fd, const struct mr_desc *desc,
			const struct iovec *iov, int64_t pos, size_t n)
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
	return tail_is_file(fd, desc, (uint64_t)pos + n, last_byte) ? 0 : -1;
}

/* A vectored read that only the kernel can answer; at_offset: readv's. */
static ssize_t kernel_readv(int fd, struct mr_desc *desc,
			    const struct iovec *iov, int iovcnt, bool at_offset,
			    int64_t pos, int flags,
			    enum mmapread_fallback reason)
{
	ssize_t ret;

	if (at_offset)
		pos = atomic_load(&desc->offset);
	ret = mr_real_preadv2(fd, iov, iovcnt, pos, flags);
	if (ret < 0)
		return -errno;
	if (at_offset)
		atomic_fetch_add(&desc->offset, ret);
	mr_count_fallback(reason);
	return ret;
}

/*
 * readv/preadv/preadv2 from the mapping; at_offset for the calls that use
 * and move the description's offset. Flags, and anything the kernel might
 * refuse, go to the kernel whole.
 */
static ssize_t serve_readv(int fd, struct mr_desc *desc,
			   const struct iovec *iov, int iovcnt, bool at_offset,
			   int64_t pos, int flags)
{
	ssize_t total = flags ? -1 : iov_total(iov, iovcnt);
	size_t want;
	ssize_t ret;
	int err;

	if (total < 0)
		return kernel_readv(fd, desc, iov, iovcnt, at_offset, pos,
				    flags, MMAPREAD_FB_UNUSUAL_CALL);
	if (total == 0)
		return 0;
	want = mr_clamp_rw((size_t)total);
	if (at_offset) {
		pos = atomic_load(&desc->offset);
		do {
			if (!mr_span_inside(pos, want, desc->map_len))
				return kernel_readv(fd, desc, iov, iovcnt,
						    true, 0, 0,
						    MMAPREAD_FB_PAST_MAPPING);
		} while (!atomic_compare_exchange_weak(&desc->offset, &pos,
						       pos + (int64_t)want));
	} else if (!mr_span_inside(pos, want, desc->map_len)) {
		return kernel_readv(fd, desc, iov, iovcnt, false, pos, 0,
				    MMAPREAD_FB_PAST_MAPPING);
	}
	if (copy_out_iov(fd, desc, iov, pos, want) != 0) {
		int64_t reserved_end = pos + (int64_t)want;

		ret = mr_real_preadv(fd, iov, iovcnt, pos);
		err = errno;
		if (at_offset)
			atomic_compare_exchange_strong(
				&desc->offset, &reserved_end,
				pos + (ret > 0 ? ret : 0));
		return recover(fd, desc, ret, err);
	}
	mr_count(MR_C_READVS_SERVED, 1);
	mr_count(MR_C_BYTES_SERVED, want);
	return (ssize_t)want;
}

/* ---- the entry points ------------------------------------------------- */

/*
 * The shape every read-family call shares: find the description, let the
 * policy see the request while WATCHING, serve it when MAPPED, and pass
 * it through otherwise.
 */
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

static size_t request_size(const struct read_call *call)
{
	ssize_t total;

	if (call->kind == READ_PLAIN || call->kind == READ_POSITIONAL)
		return call->count;
	total = iov_total(call->iov, call->iovcnt);
	return total > 0 ? (size_t)total : 0;
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

/* The same call answered by the kernel, at the description's offset. */
static ssize_t serve_by_kernel(int fd, struct mr_desc *desc,
			       const struct read_call *call,
			       enum mmapread_fallback reason)
{
	ssize_t ret;

	switch (call->kind) {
	case READ_PLAIN:
		return kernel_read_at_offset(fd, desc, call->buf, call->count,
					     reason);
	case READ_POSITIONAL:
		ret = mr_real_pread(fd, call->buf, call->count, call->pos);
		if (ret < 0)
			return -errno;
		mr_count_fallback(reason);
		return ret;
	case READ_VECTOR:
		return kernel_readv(fd, desc, call->iov, call->iovcnt, true, 0,
				    0, reason);
	default:
		return kernel_readv(fd, desc, call->iov, call->iovcnt,
				    call->pos == -1, call->pos, call->flags,
				    reason);
	}
}

static ssize_t serve(int fd, struct mr_desc *desc, const struct read_call *call)
{
	if (!mr_guard_copy_allowed())
		return serve_by_kernel(fd, desc, call,
				       MMAPREAD_FB_SIGNALS_BLOCKED);
	switch (call->kind) {
	case READ_PLAIN:
		return serve_read(fd, desc, call->buf, call->count);
	case READ_POSITIONAL:
		return serve_pread(fd, desc, call->buf, call->count, call->pos);
	case READ_VECTOR:
		return serve_readv(fd, desc, call->iov, call->iovcnt, true, 0,
				   0);
	default:
		return serve_readv(fd, desc, call->iov, call->iovcnt,
				   call->pos == -1, call->pos, call->flags);
	}
}

static ssize_t dispatch(int fd, const struct read_call *call)
{
	struct mr_desc *desc = mr_fdtable_acquire(fd);
	bool noted = false;
	ssize_t ret;

	if (!desc)
		return pass_through(fd, call);
	for (;;) {
		switch (atomic_load_explicit(&desc->state,
					     memory_order_acquire)) {
		case MR_MAPPED:
			ret = serve(fd, desc, call);
			goto out;
		case MR_WATCHING:
			if (!noted) {
				noted = true;
				if (note_request(desc, request_size(call)) &&
				    decide(fd, desc, !moves_offset(call)))
					continue;
			}
			if (!moves_offset(call)) {
				ret = pass_through(fd, call);
				goto out;
			}
			if (!watch_enter(desc)) {
				wait_decided(desc);
				continue;
			}
			ret = pass_through(fd, call);
			watch_leave(desc);
			goto out;
		default:
			/* No reference is held across a call that may block
			 * or be a cancellation point. */
			mr_desc_put(desc);
			return pass_through(fd, call);
		}
	}
out:
	mr_desc_put(desc);
	return ret;
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

	/* Flags or odd offsets: the kernel's business, at our offset. */
	if (off < -1 || (flags && off != -1))
		return kernel_result(
			mr_real_preadv2(fd, iov, iovcnt, off, flags));
	if (flags)
		call.kind = READ_VECTOR_POS, call.pos = -1;
	return dispatch(fd, &call);
}

off_t mr_lseek(int fd, off_t off, int whence)
{
	struct mr_desc *desc = mr_fdtable_acquire(fd);
	int64_t cur, target;
	off_t ret;

	if (!desc)
		return kernel_result(mr_real_lseek(fd, off, whence));
	for (;;) {
		switch (atomic_load_explicit(&desc->state,
					     memory_order_acquire)) {
		case MR_MAPPED:
			cur = atomic_load(&desc->offset);
			ret = mr_seek_target(cur, off, whence, &target);
			if (ret == 0 && (uint64_t)target <= desc->map_len) {
				atomic_store(&desc->offset, target);
				mr_count(MR_C_LSEEKS_SERVED, 1);
				ret = target;
			} else if (ret == -EINVAL) {
				/* negative or overflowing: offset unchanged */
			} else {
				/* Past the mapping, SEEK_END (the file may have
				 * grown), SEEK_DATA/HOLE, bad whence. */
				ret = mr_real_lseek(fd, ret == 0 ? target : off,
						    ret == 0 ? SEEK_SET : whence);
				if (ret < 0)
					ret = -errno;
				else
					atomic_store(&desc->offset, ret);
			}
			goto out;
		case MR_WATCHING:
			if (!watch_enter(desc)) {
				wait_decided(desc);
				continue;
			}
			ret = kernel_result(mr_real_lseek(fd, off, whence));
			watch_leave(desc);
			goto out;
		default:
			mr_desc_put(desc);
			return kernel_result(mr_real_lseek(fd, off, whence));
		}
	}
out:
	mr_desc_put(desc);
	return ret;
}

int mr_sigaction(int sig, const struct sigaction *act,
		 struct sigaction *ret_oldact)
{
	if (mr_guard_intercepts(sig))
		return mr_guard_sigaction(sig, act, ret_oldact);
	return mr_real_sigaction(sig, act, ret_oldact) < 0 ? -errno : 0;
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
