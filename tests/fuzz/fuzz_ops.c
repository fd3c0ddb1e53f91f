/*
 * fuzz_ops: a random but reproducible sequence of file operations, for
 * differential fuzzing (run natively and under the preload by run-fuzz,
 * whose transcripts must be byte-identical).
 *
 *   fuzz_ops [--skip LIST] SEED COUNT DIR
 *
 * The hand-written comparison programs check the cases someone thought
 * of; this one mixes opens in every access mode, reads of every kind and
 * size (0, tiny, larger than the file, at and past end of file), lseek
 * with every whence and absurd offsets, every way of duplicating an fd,
 * close_range(), writes, appends, truncations and fallocate() through the
 * same or another fd, truncate() by name (as another process would), the
 * kernel reading the fd (sendfile(),
 * copy_file_range()), stdio on a borrowed fd or by name, reads in a
 * forked child, and threads reading one fd at once, in orders nobody would
 * pick.
 * Every call prints one line: its arguments, result, errno and a checksum
 * of the bytes read.
 *
 * Each operation draws its choices from a generator seeded by (SEED, its
 * index) alone, so that --skip (comma-separated indices or ranges a-b)
 * can drop operations from a failing sequence without changing the others:
 * that is what lets run-fuzz minimise it. Operations name fds by slot;
 * an empty slot holds -1, whose EBADF is as comparable as any other result.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define NFILES 4
#define NSLOTS 10
#define MAX_FILE (300 * 1024)
#define MAX_IO (70 * 1024)
#define MAX_IOV 4
/* Writes and truncations stay below this, so the files stay small. */
#define WRITE_SPAN (400 * 1024)
/* dup2()/dup3() onto an empty slot use this fd number plus the slot. */
#define TARGET_FD_BASE 200

static uint64_t rng_state;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	return splitmix(&rng_state);
}

/* Uniform enough in [0, n). */
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void seed_for(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0xd1b54a32d192ed03ULL);

	rng_state = splitmix(&s);
}

/*
 * Writes, truncations and forks send many descriptions back to the kernel
 * for good: a quarter of the seeds go without writes, another quarter
 * without forks, so that long runs on a mapping are fuzzed too.
 */
enum profile { FULL, READ_ONLY, NO_FORK };
static enum profile profile;

static int slots[NSLOTS];

/*
 * Set by a fallocate() that may leave unwritten extents. ext4 reports an
 * unwritten extent as data to SEEK_DATA/SEEK_HOLE where its pages happen
 * to be in the page cache, and the read-around of page faults on a
 * mapping caches other pages than read() does: the answer then depends on
 * the cache, not on the file (natively too, after any other reader), so
 * such seeks are left out from then on.
 */
static bool unwritten;
static char paths[NFILES + 1][4096];
static unsigned char buf[MAX_IOV * MAX_IO];
static unsigned char wbuf[MAX_IO];

static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * Sizes that find edges: 0, 1, a page and its neighbours, whole-file
 * sizes, and anything up to MAX_IO.
 */
static size_t io_size(void)
{
	static const size_t edges[] = { 0, 1, 2, 4095, 4096, 4097, 65536,
					 MAX_IO };

	switch (below(4)) {
	case 0:
		return edges[below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return 1 + below(64);
	case 2:
		return 1 + below(8192);
	default:
		return 1 + below(MAX_IO);
	}
}

/* Offsets for pread and lseek: in and around the files, and absurd ones. */
static int64_t any_offset(bool allow_negative)
{
	switch (below(8)) {
	case 0:
		return 0;
	case 1:
		return (int64_t)below(4096);
	case 2:
	case 3:
		return (int64_t)below(MAX_FILE + 8192);
	case 4:
		return (int64_t)(below(80) * 4096) - (int64_t)below(2);
	case 5:
		return allow_negative ? -(int64_t)(1 + below(MAX_FILE)) :
			(int64_t)below(64);
	case 6:
		return allow_negative && below(2) ? INT64_MIN : INT64_MAX;
	default:
		return (int64_t)1 << (40 + below(23));
	}
}

/*
 * Mostly an open fd: calls on -1 only ever test EBADF. An empty slot moves
 * on to the next open one, so that an operation keeps its slot whatever
 * happened to the others (what lets a minimised sequence lose them), and
 * the draws are the same whatever the state, so that the operation's
 * other choices do not change either.
 */
static int pick_slot(void)
{
	int s = (int)below(NSLOTS);
	bool keep_empty = below(8) == 0;

	for (int i = 0; !keep_empty && i < NSLOTS; i++)
		if (slots[(s + i) % NSLOTS] >= 0)
			return (s + i) % NSLOTS;
	return s;
}

/* Where a new fd goes: an empty slot, or an occupied one we close first. */
static void put_fd(int s, int fd)
{
	if (slots[s] >= 0 && slots[s] != fd)
		close(slots[s]);
	slots[s] = fd;
}

static void print_result(long long ret, int err)
{
	printf(" = %lld errno %d\n", ret, ret < 0 ? err : 0);
}

static void fill_wbuf(size_t n)
{
	uint64_t x = rnd();

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			x = splitmix(&x);
		wbuf[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

static void op_open(void)
{
	static const int modes[] = { O_RDONLY, O_RDONLY, O_RDONLY, O_RDWR,
				     O_RDWR, O_WRONLY, O_RDWR | O_APPEND,
				     O_WRONLY | O_APPEND };
	int s = pick_slot();
	/* Now and then a name that does not exist. */
	int f = (int)below(NFILES * 8 + 1) / 8;
	int flags = modes[below(sizeof(modes) / sizeof(modes[0]))];
	int fd;

	if (profile == READ_ONLY)
		flags = O_RDONLY;
	if (below(4) == 0)
		flags |= O_CLOEXEC;
	if ((flags & O_ACCMODE) != O_RDONLY && below(12) == 0)
		flags |= O_TRUNC;
	fd = open(paths[f], flags);
	printf("open slot %d file %d flags %#x", s, f, flags);
	print_result(fd, errno);
	if (fd >= 0)
		put_fd(s, fd);
}

static void op_read(void)
{
	int s = pick_slot();
	size_t n = io_size();
	ssize_t r = read(slots[s], buf, n);
	int err = errno;

	printf("read slot %d n %zu", s, n);
	printf(" sum %016" PRIx64, checksum(buf, r > 0 ? (size_t)r : 0));
	print_result(r, err);
}

static void op_pread(void)
{
	int s = pick_slot();
	size_t n = io_size();
	int64_t off = any_offset(below(8) == 0);
	ssize_t r = pread(slots[s], buf, n, off);
	int err = errno;

	printf("pread slot %d n %zu off %" PRId64, s, n, off);
	printf(" sum %016" PRIx64, checksum(buf, r > 0 ? (size_t)r : 0));
	print_result(r, err);
}

static void op_readv(bool positional)
{
	struct iovec iov[MAX_IOV];
	int s = pick_slot();
	int cnt = (int)below(MAX_IOV + 1);
	int64_t off = positional ? any_offset(below(8) == 0) : 0;
	size_t total = 0;
	ssize_t r;
	int err;

	printf("%s slot %d iov", positional ? "preadv" : "readv", s);
	for (int i = 0; i < cnt; i++) {
		iov[i].iov_base = buf + total;
		iov[i].iov_len = io_size();
		total += iov[i].iov_len;
		printf(" %zu", iov[i].iov_len);
	}
	r = positional ? preadv(slots[s], iov, cnt, off) :
		readv(slots[s], iov, cnt);
	err = errno;
	if (positional)
		printf(" off %" PRId64, off);
	printf(" sum %016" PRIx64, checksum(buf, r > 0 ? (size_t)r : 0));
	print_result(r, err);
}

static void op_lseek(void)
{
	static const int whences[] = { SEEK_SET, SEEK_CUR, SEEK_END,
				       SEEK_DATA, SEEK_HOLE };
	int s = pick_slot();
	int whence = whences[below(5)];
	int64_t off = below(3) == 0 ? 0 : any_offset(true);
	off_t r;

	if (whence == SEEK_SET && below(2))
		off = any_offset(false);
	if (unwritten && (whence == SEEK_DATA || whence == SEEK_HOLE)) {
		printf("lseek slot %d whence %d: not after fallocate\n", s,
		       whence);
		return;
	}
	r = lseek(slots[s], off, whence);
	printf("lseek slot %d off %" PRId64 " whence %d", s, off, whence);
	print_result(r, errno);
}

static void op_dup(void)
{
	int s = pick_slot(), t = pick_slot();
	int target = slots[t] >= 0 ? slots[t] : TARGET_FD_BASE + t;
	int kind = (int)below(5);
	int fd;

	switch (kind) {
	case 0:
		fd = dup(slots[s]);
		break;
	case 1:
		fd = dup2(slots[s], target);
		break;
	case 2:
		fd = dup3(slots[s], target, below(2) ? O_CLOEXEC : 0);
		break;
	case 3:
		fd = fcntl(slots[s], F_DUPFD, (int)below(64));
		break;
	default:
		fd = fcntl(slots[s], F_DUPFD_CLOEXEC, (int)below(64));
		break;
	}
	printf("dup%d slot %d to slot %d (%d)", kind, s, t, target);
	print_result(fd, errno);
	/* dup2() of an fd onto itself returns it: nothing new to keep. */
	if (fd >= 0 && fd != slots[s]) {
		/* dup2() and dup3() closed the target already. */
		if (kind == 1 || kind == 2)
			slots[t] = -1;
		for (int i = 0; i < NSLOTS; i++)
			if (i != t && slots[i] == fd)
				slots[i] = -1;
		put_fd(t, fd);
	}
}

static void op_close(void)
{
	int s = pick_slot();
	int r = close(slots[s]);

	printf("close slot %d", s);
	print_result(r, errno);
	slots[s] = -1;
}

static void op_write(int kind)
{
	int s = pick_slot();
	size_t n = below(4) == 0 ? below(16) : io_size();
	int64_t off = (int64_t)below(WRITE_SPAN);
	ssize_t r;

	fill_wbuf(n);
	if (kind == 0) {
		/* A write at an absurd offset left by lseek would make a
		 * huge file: keep the offset within WRITE_SPAN first. */
		off_t cur = lseek(slots[s], 0, SEEK_CUR);

		if (cur > WRITE_SPAN)
			lseek(slots[s], off, SEEK_SET);
		r = write(slots[s], wbuf, n);
		printf("write slot %d n %zu", s, n);
	} else {
		r = pwrite(slots[s], wbuf, n, off);
		printf("pwrite slot %d n %zu off %" PRId64, s, n, off);
	}
	print_result(r, errno);
}

static void op_ftruncate(void)
{
	int s = pick_slot();
	int64_t len = below(10) == 0 ? 0 : (int64_t)below(WRITE_SPAN);
	int r = ftruncate(slots[s], len);

	printf("ftruncate slot %d len %" PRId64, s, len);
	print_result(r, errno);
}

static void op_fstat(void)
{
	struct stat st;
	int s = pick_slot();
	int r = fstat(slots[s], &st);

	printf("fstat slot %d size %lld", s,
	       r == 0 ? (long long)st.st_size : -1LL);
	print_result(r, errno);
}

/*
 * stdio on the fd: fgetc reads a buffer ahead, and fclose must put the
 * offset back where the stream stopped; either on a dup (the slot keeps
 * the description) or on the slot's fd itself (fclose closes it).
 */
static void op_stdio(void)
{
	int s = pick_slot();
	bool own = below(2);
	int fd = own ? slots[s] : dup(slots[s]);
	int n = (int)below(5000);
	uint64_t h = 0xcbf29ce484222325ULL;
	int got = 0, c = 0;
	FILE *f;

	printf("stdio slot %d own %d n %d", s, own, n);
	if (fd < 0) {
		print_result(fd, errno);
		return;
	}
	f = fdopen(fd, "r");
	if (!f) {
		print_result(-1, errno);
		if (!own)
			close(fd);
		return;
	}
	while (got < n && (c = fgetc(f)) != EOF) {
		h = (h ^ (unsigned char)c) * 0x100000001b3ULL;
		got++;
	}
	printf(" got %d sum %016" PRIx64 " eof %d err %d", got, h, feof(f),
	       ferror(f));
	print_result(fclose(f), errno);
	if (own)
		slots[s] = -1;
}

/* A child reads through the inherited fd: the offset it moves is ours. */
static void op_fork_read(void)
{
	struct {
		ssize_t r;
		int err;
		uint64_t sum;
		off_t off;
	} res = { -1, 0, 0, -1 };
	int s = pick_slot();
	size_t n = io_size();
	int pipefd[2];
	int status = 0;
	pid_t pid;

	fflush(stdout);
	if (pipe(pipefd) != 0) {
		perror("pipe");
		exit(2);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		res.r = read(slots[s], buf, n);
		res.err = res.r < 0 ? errno : 0;
		res.sum = checksum(buf, res.r > 0 ? (size_t)res.r : 0);
		res.off = lseek(slots[s], 0, SEEK_CUR);
		if (write(pipefd[1], &res, sizeof(res)) != sizeof(res))
			_exit(3);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &res, sizeof(res)) != sizeof(res))
		res.r = -2;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	printf("fork-read slot %d n %zu child off %lld sum %016" PRIx64
	       " status %d parent off %lld", s, n, (long long)res.off,
	       res.sum, status, (long long)lseek(slots[s], 0, SEEK_CUR));
	print_result(res.r, res.err);
}

/*
 * 2-4 threads read() the same fd at once, n bytes each. Which thread gets
 * which bytes is the scheduler's choice, so only what the kernel fixes is
 * printed: the counts sorted, the sum of every byte read (the reads cover
 * one range from the offset on, each byte once, however they split it),
 * and the offset after.
 */
#define READ_THREADS_MAX 4

struct thread_read {
	int fd;
	size_t n;
	ssize_t r;
	int err;
	uint64_t byte_sum;
	unsigned char data[MAX_IO];
};

static struct thread_read thread_reads[READ_THREADS_MAX];

static void *thread_read_one(void *arg)
{
	struct thread_read *t = arg;

	t->r = read(t->fd, t->data, t->n);
	t->err = t->r < 0 ? errno : 0;
	t->byte_sum = 0;
	for (ssize_t i = 0; i < t->r; i++)
		t->byte_sum += t->data[i];
	return NULL;
}

static int compare_ssize(const void *a, const void *b)
{
	ssize_t x = *(const ssize_t *)a, y = *(const ssize_t *)b;

	return (x > y) - (x < y);
}

static void op_threads_read(void)
{
	pthread_t threads[READ_THREADS_MAX];
	ssize_t counts[READ_THREADS_MAX];
	int s = pick_slot();
	int nthreads = 2 + (int)below(READ_THREADS_MAX - 1);
	size_t n = io_size();
	uint64_t byte_sum = 0;
	int err = 0;

	if (n > MAX_IO)
		n = MAX_IO;
	for (int i = 0; i < nthreads; i++) {
		thread_reads[i].fd = slots[s];
		thread_reads[i].n = n;
		if (pthread_create(&threads[i], NULL, thread_read_one,
				   &thread_reads[i]) != 0) {
			perror("pthread_create");
			exit(2);
		}
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(threads[i], NULL);
		counts[i] = thread_reads[i].r;
		byte_sum += thread_reads[i].byte_sum;
		if (thread_reads[i].err)
			err = thread_reads[i].err;
	}
	qsort(counts, (size_t)nthreads, sizeof(counts[0]), compare_ssize);
	printf("threads-read slot %d threads %d n %zu counts", s, nthreads, n);
	for (int i = 0; i < nthreads; i++)
		printf(" %zd", counts[i]);
	printf(" bytes %" PRIu64 " off %lld", byte_sum,
	       (long long)lseek(slots[s], 0, SEEK_CUR));
	print_result(counts[nthreads - 1] < 0 ? -1 : 0, err);
}

/* preadv2(): an offset of -1 reads at (and moves) the file offset. */
static void op_preadv2(void)
{
	struct iovec iov[2];
	int s = pick_slot();
	int64_t off = below(2) ? -1 : any_offset(false);
	ssize_t r;
	int err;

	iov[0].iov_base = buf;
	iov[0].iov_len = io_size();
	iov[1].iov_base = buf + iov[0].iov_len;
	iov[1].iov_len = io_size();
	r = preadv2(slots[s], iov, 2, off, 0);
	err = errno;
	printf("preadv2 slot %d iov %zu %zu off %" PRId64 " sum %016" PRIx64,
	       s, iov[0].iov_len, iov[1].iov_len, off,
	       checksum(buf, r > 0 ? (size_t)r : 0));
	print_result(r, err);
}

/*
 * The kernel reading a file through the fd: sendfile() to /dev/null and
 * copy_file_range() into another slot's file, with the file offsets (NULL)
 * or offsets of their own.
 */
static void op_kernel_copy(int devnull)
{
	int s = pick_slot(), t = pick_slot();
	bool own_in = below(2), own_out = below(2);
	loff_t in = (loff_t)below(MAX_FILE), out = (loff_t)below(WRITE_SPAN);
	size_t n = io_size();
	ssize_t r;
	int err;

	if (below(2)) {
		off_t o = (off_t)in;

		r = sendfile(devnull, slots[s], own_in ? &o : NULL, n);
		err = errno;
		printf("sendfile slot %d n %zu off %lld now %lld", s, n,
		       own_in ? (long long)in : -1LL,
		       own_in ? (long long)o : -1LL);
	} else {
		r = copy_file_range(slots[s], own_in ? &in : NULL, slots[t],
				    own_out ? &out : NULL, n, 0);
		err = errno;
		printf("copy_file_range slot %d to %d n %zu in %lld out %lld",
		       s, t, n, own_in ? (long long)in : -1LL,
		       own_out ? (long long)out : -1LL);
	}
	print_result(r, err);
}

/* Holes punched, ranges zeroed or allocated under a mapping. */
static void op_fallocate(void)
{
	static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_ZERO_RANGE };
	int s = pick_slot();
	int mode = modes[below(4)];
	int64_t off = (int64_t)below(MAX_FILE);
	int64_t len = 1 + (int64_t)below(MAX_IO);
	int r = fallocate(slots[s], mode, off, len);
	int err = errno;

	if (r == 0 && !(mode & FALLOC_FL_PUNCH_HOLE))
		unwritten = true;

	printf("fallocate slot %d mode %d off %" PRId64 " len %" PRId64, s,
	       mode, off, len);
	print_result(r, err);
}

/* stdio by name: fopen, fseek, fread, ftell, fclose. */
static void op_fopen(void)
{
	int f = (int)below(NFILES);
	long where = (long)below(MAX_FILE);
	int whence = below(2) ? SEEK_SET : SEEK_END;
	size_t n = io_size();
	FILE *fp = fopen(paths[f], "r");
	size_t got;
	long tell;
	int sk;

	printf("fopen file %d", f);
	if (!fp) {
		print_result(-1, errno);
		return;
	}
	if (whence == SEEK_END)
		where = -where;
	sk = fseek(fp, where, whence);
	got = fread(buf, 1, n, fp);
	tell = ftell(fp);
	printf(" seek %ld %d = %d read %zu = %zu sum %016" PRIx64 " tell %ld",
	       where, whence, sk, n, got, checksum(buf, got), tell);
	print_result(fclose(fp), errno);
}

/* close_range() over fd numbers around the slots'. */
static void op_close_range(void)
{
	unsigned int lo = 3 + (unsigned int)below(12);
	unsigned int hi = lo + (unsigned int)below(4);
	int r = close_range(lo, hi, 0);

	printf("close_range %u %u", lo, hi);
	print_result(r, errno);
	for (int s = 0; r == 0 && s < NSLOTS; s++)
		if (slots[s] >= (int)lo && slots[s] <= (int)hi)
			slots[s] = -1;
}

/*
 * truncate() by name: the preload sees no fd, as when another process
 * truncates or extends a file mapped here. Mostly a few bytes below or
 * above the current size, so that the new end falls inside a mapped page.
 */
static void op_truncate_path(void)
{
	int f = (int)below(NFILES);
	int64_t delta = (int64_t)below(6000) - 3000;
	int64_t any = (int64_t)below(WRITE_SPAN);
	bool near = below(4) != 0;
	struct stat st;
	int64_t len;
	int r;

	if (stat(paths[f], &st) != 0)
		st.st_size = 0;
	len = near ? (int64_t)st.st_size + delta : any;
	if (len < 0)
		len = 0;
	if (len > WRITE_SPAN)
		len = WRITE_SPAN;
	r = truncate(paths[f], len);
	printf("truncate file %d len %" PRId64, f, len);
	print_result(r, errno);
}

static void make_files(uint64_t seed, const char *dir)
{
	seed_for(seed, UINT64_MAX);
	for (int f = 0; f <= NFILES; f++)
		snprintf(paths[f], sizeof(paths[f]), "%s/f%d", dir, f);
	for (int f = 0; f < NFILES; f++) {
		uint64_t size = below(4) == 0 ? below(4096) :
			below(MAX_FILE + 1);
		bool sparse = below(3) == 0;
		int fd = open(paths[f], O_RDWR | O_CREAT | O_TRUNC, 0644);

		if (fd < 0) {
			perror(paths[f]);
			exit(2);
		}
		if (sparse) {
			/* Islands of data in holes, so SEEK_DATA/HOLE
			 * and reads across holes have work to do. */
			if (ftruncate(fd, (off_t)size) != 0)
				exit(2);
			for (int k = (int)below(4); k > 0 && size; k--) {
				size_t n = 1 + below(MAX_IO);
				off_t at = (off_t)below(size);

				if ((uint64_t)at + n > size)
					n = size - (uint64_t)at;
				fill_wbuf(n);
				if (pwrite(fd, wbuf, n, at) != (ssize_t)n)
					exit(2);
			}
		} else {
			for (uint64_t done = 0; done < size;) {
				size_t n = size - done < MAX_IO ?
					size - done : MAX_IO;

				fill_wbuf(n);
				if (write(fd, wbuf, n) != (ssize_t)n)
					exit(2);
				done += n;
			}
		}
		close(fd);
		printf("file %d size %" PRIu64 " sparse %d\n", f, size, sparse);
	}
}

/* --skip LIST: a bitmap of the operation indices to leave out. */
static unsigned char *skip_map;

static void parse_skip(const char *list, uint64_t count)
{
	const char *p = list;

	skip_map = calloc(count + 1, 1);
	if (!skip_map)
		exit(2);
	while (*p) {
		char *end;
		uint64_t a = strtoull(p, &end, 10), b = a;

		if (end == p)
			goto bad;
		if (*end == '-') {
			p = end + 1;
			b = strtoull(p, &end, 10);
			if (end == p)
				goto bad;
		}
		for (uint64_t i = a; i <= b && i < count; i++)
			skip_map[i] = 1;
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	return;
bad:
	fprintf(stderr, "fuzz_ops: bad --skip list '%s'\n", list);
	exit(2);
}

/* The operations below that write, truncate or allocate file data. */
static bool changes_files(int op)
{
	return op == 13 || op == 14 || op == 15 || op == 20 || op == 21 ||
	       op == 24;
}

int main(int argc, char **argv)
{
	const char *skip = NULL;
	uint64_t seed, count;
	int devnull;

	if (argc > 2 && strcmp(argv[1], "--skip") == 0) {
		skip = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 4) {
		fprintf(stderr,
			"usage: fuzz_ops [--skip LIST] SEED COUNT DIR\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	count = strtoull(argv[2], NULL, 0);
	if (skip)
		parse_skip(skip, count);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (int s = 0; s < NSLOTS; s++)
		slots[s] = -1;
	make_files(seed, argv[3]);
	/* Above the fds that close_range() and the slots use. */
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull >= 0 && dup3(devnull, 100, O_CLOEXEC) == 100) {
		close(devnull);
		devnull = 100;
	}
	if (devnull != 100) {
		perror("/dev/null");
		return 2;
	}

	profile = seed % 4 == 1 ? READ_ONLY : seed % 4 == 2 ? NO_FORK : FULL;
	for (uint64_t i = 0; i < count; i++) {
		int op;

		if (skip_map && skip_map[i])
			continue;
		seed_for(seed, i);
		printf("%" PRIu64 " ", i);
		op = (int)below(26);
		if (profile == READ_ONLY && changes_files(op))
			op = 2;
		if (profile != FULL && op == 18)
			op = 2;
		switch (op) {
		case 0:
		case 1:
			op_open();
			break;
		case 2:
		case 3:
		case 4:
			op_read();
			break;
		case 5:
		case 6:
			op_pread();
			break;
		case 7:
			op_readv(false);
			break;
		case 8:
			op_readv(true);
			break;
		case 9:
		case 10:
			op_lseek();
			break;
		case 11:
			op_dup();
			break;
		case 12:
			op_close();
			break;
		case 13:
			op_write(0);
			break;
		case 14:
			op_write(1);
			break;
		case 15:
			op_ftruncate();
			break;
		case 16:
			op_fstat();
			break;
		case 17:
			op_stdio();
			break;
		case 18:
			/* Forks are slow: one op in a hundred or so. */
			if (below(5) == 0)
				op_fork_read();
			else
				op_read();
			break;
		case 19:
			op_preadv2();
			break;
		case 20:
			op_kernel_copy(devnull);
			break;
		case 21:
			op_fallocate();
			break;
		case 22:
			op_fopen();
			break;
		case 23:
			op_close_range();
			break;
		case 24:
			op_truncate_path();
			break;
		default:
			/* Threads are slow too: half of these. */
			if (below(2) == 0)
				op_threads_read();
			else
				op_open();
			break;
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
