/*
 * stress: many threads read a pool of files that another process shrinks,
 * restores and grows, and every byte they get is checked.
 *
 * usage: stress THREADS FILES SECONDS SEED [DIR]
 *
 * The fixed-count program tests each pin one race; this one lets the
 * scheduler pick the interleavings for SECONDS seconds, so that the
 * combinations no one thought of (a readv on a dup of a description whose
 * file is being restored while another thread lseeks it...) get a chance.
 *
 * Every file holds 4-byte records whose value says which file and which
 * record they are, with the top bit set so that no record is all zeros:
 * any byte a read returns can be checked against what it MUST be, and
 * bytes of unknown position (read() on an fd other threads move too) can
 * be placed by decoding them. Even-numbered files are shrunk by a helper
 * process (forked before any thread starts) to a size in [floor, base) and
 * then rewritten to exactly their old content; odd-numbered ones only grow
 * by appended records. A short read must end at a size the file can have
 * had (a multiple of 4 inside those bounds), and 0 only at such a size.
 *
 * Threads open, read, pread, readv, lseek, dup and close their own fds
 * (whose offset they know) and use fds shared by all of them: some moved
 * by everyone (the bytes must fit some position), and some only read(),
 * whose offset must end up the sum of all the counts (the kernel gives
 * concurrent readers of one description disjoint bytes). Prints the
 * totals, the violations by kind (the first few of each in detail on
 * stderr) and, under the preload, mmapread's counters; exits 1 on any
 * violation, 2 when the test itself cannot run. A crash (SIGBUS, SIGSEGV)
 * ends it by its signal.
 *
 * [DIR]: an existing directory to create the files in, kept afterwards
 * (default: a new one under /tmp, removed).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmapread.h"

#define MAX_FILES 1024		/* 10 bits of the record */
#define MAX_RECORDS (1 << 20)	/* 20 bits of the record */
#define GROW_CAP (256 * 1024)	/* records a growing file may reach */
#define OWN_FDS 8		/* per thread */
#define MAX_IO 16384
#define REPORTS 5		/* violations of a kind described in detail */

enum violation {
	V_BYTES,	/* a byte that is not the file's at that position */
	V_SHORT,	/* a short count ending where the file never ended */
	V_OFFSET,	/* lseek or the offset after a read disagrees */
	V_ERRNO,	/* a call failed that cannot fail */
	V_UNPLACED,	/* bytes read from a shared fd fit no position */
	V_SHARING,	/* concurrent reads of one offset overlap or skip */
	V_COUNT
};

static const char *const violation_names[V_COUNT] = {
	"bytes", "short", "offset", "errno", "unplaced", "sharing",
};

/* Shared with the helper process (MAP_SHARED | MAP_ANONYMOUS). */
struct shared {
	_Atomic uint64_t size[MAX_FILES];  /* growing files: size reached */
	_Atomic uint64_t grow_to[MAX_FILES]; /* and what an append reaches */
	atomic_bool stop;
	_Atomic uint64_t truncations;
	_Atomic uint64_t appends;
};

struct file {
	char path[4096];
	uint64_t base;		/* bytes; shrinking files return to it */
	uint64_t floor;		/* shrinking files never go below it */
	int shared_fd[2];	/* [1] is a dup of [0] */
	/*
	 * Only read(), by all threads at once, never moved by anyone else:
	 * the kernel gives each read its own bytes, so the counts add up to
	 * the offset. Readers hold seq_lock shared, its check holds it alone.
	 */
	int seq_fd;
	pthread_rwlock_t seq_lock;
	_Atomic uint64_t seq_sum;
};

static struct shared *sh;
static struct file files[MAX_FILES];
static int nfiles;
static struct timespec deadline;

static _Atomic uint64_t ops, bytes_read, short_reads, violations[V_COUNT];
/* Reads that returned zeros a truncation may write (zeroed_by_truncation). */
static _Atomic uint64_t truncation_zeros;
static atomic_int reported[V_COUNT];

static uint32_t record(int f, uint64_t i)
{
	return 0x80000000u | ((uint32_t)f << 20) | (uint32_t)i;
}

static uint8_t expected_byte(int f, uint64_t off)
{
	uint32_t r = record(f, off / 4);

	return (uint8_t)(r >> (8 * (off % 4)));
}

static bool shrinks(int f)
{
	return f % 2 == 0;
}

static void violation(enum violation v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violation(enum violation v, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&violations[v], 1);
	if (atomic_fetch_add(&reported[v], 1) >= REPORTS)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "stress: violation (%s): ", violation_names[v]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void die(const char *what)
{
	fprintf(stderr, "stress: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool past_deadline(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec &&
		now.tv_nsec >= deadline.tv_nsec);
}

/*
 * The smallest size file f can have had since before the call (low, read
 * when it started), and the largest it can have now.
 */
static uint64_t size_low(int f)
{
	return shrinks(f) ? files[f].floor : atomic_load(&sh->size[f]);
}

static uint64_t size_high(int f)
{
	return shrinks(f) ? files[f].base : atomic_load(&sh->grow_to[f]);
}

/*
 * A zero where file f's byte at pos was expected, which the kernel's own
 * read may return: it reads the size, then copies the pages, and a
 * truncation in between zeroes the tail of the folio it cuts (from the new
 * size to the folio's end) before the helper writes the bytes back. So
 * zeros are the file's only in a shrinking file, at or above the lowest
 * size it is ever cut to; anywhere else, and any other wrong value, is a
 * violation.
 */
static bool zeroed_by_truncation(int f, uint64_t pos, uint8_t byte)
{
	return byte == 0 && shrinks(f) && pos >= files[f].floor;
}

/* Bytes [pos, pos + n) of buf must be file f's (see above for zeros). */
static bool bytes_ok(int f, uint64_t pos, const uint8_t *buf, size_t n,
		     size_t *ret_bad, bool *zeroed)
{
	*zeroed = false;
	for (size_t k = 0; k < n; k++) {
		if (buf[k] == expected_byte(f, pos + k))
			continue;
		if (zeroed_by_truncation(f, pos + k, buf[k])) {
			*zeroed = true;
			continue;
		}
		*ret_bad = k;
		return false;
	}
	return true;
}

/*
 * Check a read of count bytes at pos that returned ret: the bytes, and
 * that a short count ends at a size the file can have had. low is
 * size_low(f) before the call.
 */
static void check_read(const char *call, int f, uint64_t pos, size_t count,
		       ssize_t ret, const uint8_t *buf, uint64_t low)
{
	size_t bad;
	bool zeroed;
	uint64_t end;

	atomic_fetch_add(&ops, 1);
	if (ret < 0) {
		violation(V_ERRNO, "%s file %d pos %" PRIu64 " count %zu: %s",
			  call, f, pos, count, strerror(errno));
		return;
	}
	atomic_fetch_add(&bytes_read, (uint64_t)ret);
	if (!bytes_ok(f, pos, buf, (size_t)ret, &bad, &zeroed))
		violation(V_BYTES, "%s file %d pos %" PRIu64 " count %zu "
			  "ret %zd: byte %zu is 0x%02x, not 0x%02x",
			  call, f, pos, count, ret, bad, buf[bad],
			  expected_byte(f, pos + bad));
	else if (zeroed)
		atomic_fetch_add(&truncation_zeros, 1);
	if ((size_t)ret == count)
		return;
	atomic_fetch_add(&short_reads, 1);
	end = pos + (uint64_t)ret;
	if (ret == 0 ? pos < low
		     : end % 4 != 0 || end < low || end > size_high(f))
		violation(V_SHORT, "%s file %d pos %" PRIu64 " count %zu "
			  "ret %zd: the file was never %" PRIu64 " bytes "
			  "(sizes %" PRIu64 "..%" PRIu64 ")",
			  call, f, pos, count, ret, end, low, size_high(f));
}

/*
 * Bytes read from an fd other threads move too: some position must fit
 * them all, found by decoding a whole record at each of the four phases
 * the buffer can start at (further in when it starts with zeros a
 * truncation may have written); then they are checked as a read from there.
 */
static void check_unplaced(const char *call, int f, ssize_t ret,
			   const uint8_t *buf, size_t count, uint64_t low)
{
	size_t bad;
	bool zeroed;

	if (ret < 0) {
		check_read(call, f, 0, count, ret, buf, low);
		return;
	}
	if (ret < 8) {
		/* Too few bytes to place (the offset may be past the end). */
		atomic_fetch_add(&ops, 1);
		atomic_fetch_add(&bytes_read, (uint64_t)ret);
		atomic_fetch_add(&short_reads, 1);
		return;
	}
	for (size_t p = 0; p + 4 <= (size_t)ret; p++) {
		uint32_t r;
		uint64_t pos;

		/* Past the first whole record only for a zeroed start. */
		if (p >= 4 && !zeroed_by_truncation(f, files[f].floor, buf[0]))
			break;
		memcpy(&r, buf + p, 4);
		if ((r >> 20) != (0x800u | (uint32_t)f))
			continue;
		pos = (uint64_t)(r & (MAX_RECORDS - 1)) * 4;
		if (pos < p)
			continue;
		pos -= p;
		if (bytes_ok(f, pos, buf, (size_t)ret, &bad, &zeroed)) {
			check_read(call, f, pos, count, ret, buf, low);
			return;
		}
	}
	atomic_fetch_add(&ops, 1);
	violation(V_UNPLACED, "%s shared file %d: %zd bytes fit no position "
		  "(first 0x%02x%02x%02x%02x)", call, f, ret, buf[0], buf[1],
		  buf[2], buf[3]);
}

struct own {
	int fd;
	int f;
	uint64_t pos;
};

static void check_offset(const char *call, struct own *o)
{
	off_t cur = lseek(o->fd, 0, SEEK_CUR);

	atomic_fetch_add(&ops, 1);
	if (cur < 0 || (uint64_t)cur != o->pos)
		violation(V_OFFSET, "%s file %d: offset %lld, not %" PRIu64,
			  call, o->f, (long long)cur, o->pos);
}

static size_t rnd_count(uint64_t *s)
{
	switch (rnd(s) % 4) {
	case 0:
		return 1 + rnd(s) % 16;
	case 1:
		return 1 + rnd(s) % 512;
	case 2:
		return 4096 * (1 + rnd(s) % 3);
	default:
		return 1 + rnd(s) % MAX_IO;
	}
}

/* A position near where things change: the ends the file can have. */
static uint64_t rnd_pos(uint64_t *s, int f)
{
	uint64_t high = size_high(f);

	switch (rnd(s) % 3) {
	case 0:
		return rnd(s) % (high + 1);
	case 1:
		return high - rnd(s) % (high < 8192 ? high + 1 : 8192);
	default:
		return size_low(f) - rnd(s) % 8192 % (size_low(f) + 1);
	}
}

/* One read-like call on an fd whose offset only this thread moves. */
static void own_read(uint64_t *s, struct own *o, uint8_t *buf)
{
	size_t count = rnd_count(s);
	uint64_t low = size_low(o->f);
	struct iovec iov[4];
	ssize_t ret;
	int n, fd = o->fd, dupfd = -1;

	switch (rnd(s) % 4) {
	case 0:
		ret = read(fd, buf, count);
		check_read("read", o->f, o->pos, count, ret, buf, low);
		break;
	case 1: {
		uint64_t at = rnd_pos(s, o->f);

		ret = pread(fd, buf, count, (off_t)at);
		check_read("pread", o->f, at, count, ret, buf, low);
		return;
	}
	case 2:
		n = 1 + (int)(rnd(s) % 4);
		count = 0;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = buf + count;
			iov[i].iov_len = rnd_count(s) / 4;
			count += iov[i].iov_len;
		}
		ret = readv(fd, iov, n);
		check_read("readv", o->f, o->pos, count, ret, buf, low);
		break;
	default:
		/* Through a dup: the offset is the description's. */
		dupfd = dup(fd);
		if (dupfd < 0) {
			violation(V_ERRNO, "dup: %s", strerror(errno));
			return;
		}
		ret = read(dupfd, buf, count);
		check_read("read(dup)", o->f, o->pos, count, ret, buf, low);
		close(dupfd);
		break;
	}
	if (ret > 0)
		o->pos += (uint64_t)ret;
	if (rnd(s) % 4 == 0)
		check_offset("after read", o);
}

static void own_seek(uint64_t *s, struct own *o)
{
	off_t ret;
	uint64_t low = size_low(o->f), to;

	atomic_fetch_add(&ops, 1);
	switch (rnd(s) % 3) {
	case 0:
		to = rnd_pos(s, o->f);
		ret = lseek(o->fd, (off_t)to, SEEK_SET);
		if (ret < 0 || (uint64_t)ret != to)
			violation(V_OFFSET, "lseek(SEEK_SET %" PRIu64 ") file "
				  "%d: %lld", to, o->f, (long long)ret);
		else
			o->pos = to;
		break;
	case 1: {
		int64_t by = (int64_t)(rnd(s) % 8192) - 4096;

		if ((int64_t)o->pos + by < 0)
			by = 0;
		to = (uint64_t)((int64_t)o->pos + by);
		ret = lseek(o->fd, (off_t)by, SEEK_CUR);
		if (ret < 0 || (uint64_t)ret != to)
			violation(V_OFFSET, "lseek(SEEK_CUR %" PRId64 ") file "
				  "%d at %" PRIu64 ": %lld", by, o->f, o->pos,
				  (long long)ret);
		else
			o->pos = to;
		break;
	}
	default:
		ret = lseek(o->fd, 0, SEEK_END);
		if (ret < 0 || (uint64_t)ret % 4 != 0 ||
		    (uint64_t)ret < low || (uint64_t)ret > size_high(o->f))
			violation(V_OFFSET, "lseek(SEEK_END) file %d: %lld "
				  "(sizes %" PRIu64 "..%" PRIu64 ")", o->f,
				  (long long)ret, low, size_high(o->f));
		if (ret >= 0)
			o->pos = (uint64_t)ret;
		break;
	}
}

/*
 * The offset must be the sum of the counts read since the last rewind
 * (none of them lost, none read twice); then it goes back to 0.
 */
static void seq_check(int f, bool rewind)
{
	struct file *fl = &files[f];
	off_t cur;

	pthread_rwlock_wrlock(&fl->seq_lock);
	atomic_fetch_add(&ops, 1);
	cur = lseek(fl->seq_fd, 0, SEEK_CUR);
	if (cur < 0 || (uint64_t)cur != atomic_load(&fl->seq_sum))
		violation(V_SHARING, "file %d: offset %lld after reads of "
			  "%" PRIu64 " bytes in all", f, (long long)cur,
			  atomic_load(&fl->seq_sum));
	if (rewind) {
		if (lseek(fl->seq_fd, 0, SEEK_SET) != 0)
			violation(V_OFFSET, "lseek(seq) file %d to 0", f);
		atomic_store(&fl->seq_sum, 0);
	}
	pthread_rwlock_unlock(&fl->seq_lock);
}

static void seq_read(uint64_t *s, uint8_t *buf)
{
	int f = (int)(rnd(s) % (uint64_t)nfiles);
	struct file *fl = &files[f];
	size_t count = 8 + rnd_count(s);
	uint64_t low = size_low(f);
	ssize_t ret;

	pthread_rwlock_rdlock(&fl->seq_lock);
	ret = read(fl->seq_fd, buf, count);
	if (ret > 0)
		atomic_fetch_add(&fl->seq_sum, (uint64_t)ret);
	pthread_rwlock_unlock(&fl->seq_lock);
	check_unplaced("read(seq)", f, ret, buf, count, low);
	if (ret == 0)
		seq_check(f, true);
}

/* One call on an fd all threads share (their offsets race on purpose). */
static void shared_op(uint64_t *s, uint8_t *buf)
{
	int f = (int)(rnd(s) % (uint64_t)nfiles);
	int fd = files[f].shared_fd[rnd(s) % 2];
	size_t count = 8 + rnd_count(s);
	uint64_t low = size_low(f), at;
	struct iovec iov[2];
	ssize_t ret;

	switch (rnd(s) % 5) {
	case 0:
		ret = read(fd, buf, count);
		check_unplaced("read", f, ret, buf, count, low);
		break;
	case 1:
		iov[0].iov_base = buf;
		iov[0].iov_len = count / 2;
		iov[1].iov_base = buf + count / 2;
		iov[1].iov_len = count - count / 2;
		ret = readv(fd, iov, 2);
		check_unplaced("readv", f, ret, buf, count, low);
		break;
	case 2:
		at = rnd_pos(s, f);
		ret = pread(fd, buf, count, (off_t)at);
		check_read("pread(shared)", f, at, count, ret, buf, low);
		break;
	case 3:
		seq_read(s, buf);
		break;
	default:
		at = rnd_pos(s, f);
		atomic_fetch_add(&ops, 1);
		if (lseek(fd, (off_t)at, SEEK_SET) != (off_t)at)
			violation(V_OFFSET, "lseek(shared) file %d to %" PRIu64,
				  f, at);
		break;
	}
}

static void *reader(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	struct own own[OWN_FDS];
	uint8_t *buf = malloc(MAX_IO + 16);
	int nown = 0;

	if (!buf)
		die("malloc");
	while (!past_deadline()) {
		for (int k = 0; k < 64; k++) {
			uint64_t what = rnd(&s) % 16;
			struct own *o;

			if (nown == 0 || (what == 0 && nown < OWN_FDS)) {
				int f = (int)(rnd(&s) % (uint64_t)nfiles);
				int fd = open(files[f].path, O_RDONLY);

				atomic_fetch_add(&ops, 1);
				if (fd < 0) {
					violation(V_ERRNO, "open %s: %s",
						  files[f].path,
						  strerror(errno));
					continue;
				}
				own[nown++] = (struct own){ fd, f, 0 };
				continue;
			}
			o = &own[rnd(&s) % (uint64_t)nown];
			if (what == 1) {
				atomic_fetch_add(&ops, 1);
				close(o->fd);
				*o = own[--nown];
			} else if (what < 4) {
				own_seek(&s, o);
			} else if (what < 11) {
				own_read(&s, o, buf);
			} else {
				shared_op(&s, buf);
			}
		}
	}
	while (nown > 0)
		close(own[--nown].fd);
	free(buf);
	return NULL;
}

static void write_records(int fd, int f, uint64_t from, uint64_t to)
{
	static uint32_t rec[MAX_RECORDS / 4];
	uint64_t n = (to - from) / 4;

	for (uint64_t i = 0; i < n; i++)
		rec[i] = record(f, from / 4 + i);
	if (pwrite(fd, rec, n * 4, (off_t)from) != (ssize_t)(n * 4))
		die("pwrite");
}

/*
 * The other process: shrinks a file and writes its lost tail back, or
 * appends to another, until told to stop.
 */
static void helper(uint64_t seed, pid_t parent)
{
	int fds[MAX_FILES];
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 7;
	struct timespec pause = { 0, 0 };

	/* A crashed parent must not leave it rewriting files forever. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		exit(2);
	for (int f = 0; f < nfiles; f++) {
		fds[f] = open(files[f].path, O_WRONLY);
		if (fds[f] < 0)
			die("open (helper)");
	}
	while (!atomic_load(&sh->stop)) {
		int f = (int)(rnd(&s) % (uint64_t)nfiles);

		if (shrinks(f)) {
			uint64_t span = files[f].base - files[f].floor;
			uint64_t to = files[f].floor + rnd(&s) % span / 4 * 4;

			if (ftruncate(fds[f], (off_t)to) != 0)
				die("ftruncate");
			pause.tv_nsec = (long)(rnd(&s) % 200000);
			nanosleep(&pause, NULL);
			write_records(fds[f], f, to, files[f].base);
			atomic_fetch_add(&sh->truncations, 1);
		} else {
			uint64_t size = atomic_load(&sh->size[f]);
			uint64_t add = 4 * (1 + rnd(&s) % 1024);

			if (size + add > GROW_CAP * 4ull)
				continue;
			/* The kernel shows the size grow page by page. */
			atomic_store(&sh->grow_to[f], size + add);
			write_records(fds[f], f, size, size + add);
			atomic_store(&sh->size[f], size + add);
			atomic_fetch_add(&sh->appends, 1);
		}
		pause.tv_nsec = (long)(rnd(&s) % 100000);
		nanosleep(&pause, NULL);
	}
	exit(0);
}

static void make_files(const char *dir, uint64_t seed)
{
	uint64_t s = seed | 1;

	for (int f = 0; f < nfiles; f++) {
		struct file *fl = &files[f];
		int fd;

		snprintf(fl->path, sizeof(fl->path), "%s/f%04d", dir, f);
		/* From one page to 160 KiB, often not page-aligned. */
		fl->base = 4 * (1024 + rnd(&s) % (40 * 1024));
		fl->floor = fl->base / 4 / 2 * 4;
		fd = open(fl->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die("create");
		write_records(fd, f, 0, fl->base);
		close(fd);
		atomic_store(&sh->size[f], fl->base);
		atomic_store(&sh->grow_to[f], fl->base);
	}
}

static void open_shared(void)
{
	for (int f = 0; f < nfiles; f++) {
		files[f].shared_fd[0] = open(files[f].path, O_RDONLY);
		if (files[f].shared_fd[0] < 0)
			die("open");
		files[f].shared_fd[1] = dup(files[f].shared_fd[0]);
		if (files[f].shared_fd[1] < 0)
			die("dup");
		files[f].seq_fd = open(files[f].path, O_RDONLY);
		if (files[f].seq_fd < 0)
			die("open");
		pthread_rwlock_init(&files[f].seq_lock, NULL);
	}
}

static void print_mmapread_stats(void)
{
	int (*get)(struct mmapread_stats *) = (int (*)(struct mmapread_stats *))
		dlsym(RTLD_DEFAULT, "mmapread_get_stats");
	const char *(*name)(int) = (const char *(*)(int))
		dlsym(RTLD_DEFAULT, "mmapread_fallback_name");
	struct mmapread_stats st;

	if (!get || get(&st) != 0)
		return;
	printf("mmapread: served=%" PRIu64 " files_mapped=%" PRIu64
	       " bytes_served=%" PRIu64, st.reads_served + st.preads_served +
	       st.readvs_served, st.files_mapped, st.bytes_served);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		if (st.fallbacks[i] && name)
			printf(" fb.%s=%" PRIu64, name(i), st.fallbacks[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	int nthreads, seconds, status;
	uint64_t seed, total = 0;
	char tmpl[] = "/tmp/mmapread-stress-XXXXXX";
	const char *dir;
	pthread_t tid[256];
	pid_t pid, parent;
	struct timespec t0, t1;
	double secs;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: stress THREADS FILES SECONDS SEED "
			"[DIR]\n");
		return 2;
	}
	nthreads = atoi(argv[1]);
	nfiles = atoi(argv[2]);
	seconds = atoi(argv[3]);
	seed = strtoull(argv[4], NULL, 0);
	if (nthreads < 1 || nthreads > 256 || nfiles < 2 ||
	    nfiles > MAX_FILES || seconds < 0) {
		fprintf(stderr, "stress: 1..256 threads, 2..%d files\n",
			MAX_FILES);
		return 2;
	}
	dir = argc == 6 ? argv[5] : mkdtemp(tmpl);
	if (!dir)
		die("mkdtemp");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	make_files(dir, seed);

	parent = getpid();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		helper(seed, parent);
	open_shared();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline = t0;
	deadline.tv_sec += seconds;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&tid[i], NULL, reader,
				   (void *)(uintptr_t)(seed + (uint64_t)i)))
			die("pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int f = 0; f < nfiles; f++)
		seq_check(f, false);
	atomic_store(&sh->stop, true);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "stress: the helper process failed (%#x)\n",
			status);
		return 2;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("stress: %d threads x %d files x %d s, seed %" PRIu64 "\n",
	       nthreads, nfiles, seconds, seed);
	printf("ops=%" PRIu64 " (%.0f/s) bytes=%" PRIu64 " short_reads=%"
	       PRIu64 " truncations=%" PRIu64 " appends=%" PRIu64
	       " truncation_zeros=%" PRIu64 "\n",
	       atomic_load(&ops), (double)atomic_load(&ops) / secs,
	       atomic_load(&bytes_read), atomic_load(&short_reads),
	       atomic_load(&sh->truncations), atomic_load(&sh->appends),
	       atomic_load(&truncation_zeros));
	printf("violations:");
	for (int v = 0; v < V_COUNT; v++) {
		printf(" %s=%" PRIu64, violation_names[v],
		       atomic_load(&violations[v]));
		total += atomic_load(&violations[v]);
	}
	printf(" total=%" PRIu64 "\n", total);
	print_mmapread_stats();

	if (argc == 5) {
		for (int f = 0; f < nfiles; f++)
			unlink(files[f].path);
		rmdir(dir);
	}
	return total ? 1 : 0;
}
