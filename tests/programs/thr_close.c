/*
 * thr_close: one thread closes (or replaces) an fd while another reads it.
 *
 * In the kernel a read() holds the file for its whole duration: a close()
 * in another thread removes the number, the read in progress still
 * completes with the right bytes, and the reads after it fail with EBADF.
 * dup2() over the number switches it to another description at once;
 * close_range() and closefrom() are close() for many numbers. So a reader
 * racing with any of them gets, call after call, the right bytes at the
 * right offset, then either EBADF (close) or the other file's bytes from
 * that description's own offset (dup2) - never anything else, never a
 * crash - and a read that starts after the call returned sees its
 * effect. Under mmapread the reader may be copying from the mapping when
 * the number goes away: the mapping must outlive the copy, and a read
 * that finds the number gone from the fd table must not be answered at a
 * stale kernel offset.
 *
 * The file holds 4-byte records 0, 1, 2...; the other file 0x80000000,
 * 0x80000001... (mapped too, its offset set back to 0 in user space).
 * Each round opens the file anew and maps it with small reads in the main
 * thread; the reader then reads until EBADF or the other file's end,
 * checking every byte it gets, while the main thread acts (close(),
 * close_range(), closefrom() here; dup2() and dup3() in thr_dup2, which
 * builds this file with THR_CLOSE_DUP2):
 *  - 1 MiB reads of a 64 MiB file, the act after 1 to 40 chunks (a copy
 *    of a MiB is in progress most of the time);
 *  - 64-byte reads, the act while a timer signal holds the reader
 *    wherever it is (inside mmapread, mostly; see the pauses in common.h);
 *    the pauses start a few chunks in, once the file is being served;
 *  - 16-byte reads as fast as they go, the act after a few hundred;
 *  - readv() of 65 records (the kernel answers those at the offset
 *    mmapread holds, through the fd's number), the act after a few (in
 *    thr_dup2 only).
 * Right after the act the main thread maps anonymous memory of the file's
 * size: if the file's mapping had been freed under the reader, this lands
 * in its place and the copy returns zeros. The main thread waits asleep
 * (a futex), never spinning: on a busy machine the reader needs the CPU.
 * Only verdicts are printed, never how far the reader got.
 */
#include "common.h"

#include <pthread.h>
#include <sys/mman.h>

#define BIG_SIZE (64u << 20)
#define SMALL_SIZE (1u << 20)
#define OTHER_SIZE (16u << 10)
#define OTHER_TAG 0x80000000u
#define PREFIX 4u /* records the main thread reads to map the file */

enum act { CLOSE, CLOSE_RANGE, CLOSEFROM, DUP2, DUP3, ACTS };
enum pace { BIG_CHUNKS, PAUSED, FAST, WIDE, PACES };

static const char *const act_names[ACTS] = {
	"close(fd)", "close_range(fd, fd, 0)", "closefrom(fd)",
	"dup2(other, fd)", "dup3(other, fd, O_CLOEXEC)",
};

/*
 * thr_dup2.c builds this file with THR_CLOSE_DUP2: dup2() and dup3() in
 * many more rounds; without it, the acts that close.
 */
#ifdef THR_CLOSE_DUP2
static const enum act acts_run[] = { DUP2, DUP3 };
static const int pace_rounds[] = { 8, 60, 300, 300 };
#define ACTS_TITLE "a reader against dup2 and dup3 over its fd"
#else
static const enum act acts_run[] = { CLOSE, CLOSE_RANGE, CLOSEFROM };
/* Not WIDE: with a hand-back it meets the bug thr_readers_wide shows. */
static const int pace_rounds[] = { 4, 30, 150, 0 };
#define ACTS_TITLE "a reader against close, close_range and closefrom"
#endif

/* The acts that give fd another description instead of closing it. */
static bool replaces(enum act act)
{
	return act == DUP2 || act == DUP3;
}

static const char *const pace_names[PACES] = {
	"1 MiB reads", "64-byte reads, paused", "16-byte reads",
	"readv() of 65 records",
};

/*
 * WIDE: more vectors than mmapread serves from a mapping, so each call of
 * a mapped description is asked of the kernel, positioned at the offset
 * mmapread holds, through the fd's number.
 */
#define WIDE_VECTORS 65
static const size_t pace_chunk[PACES] = { 1u << 20, 64, 16,
					  WIDE_VECTORS * 4 };

enum ending { ENDED_EBADF, ENDED_OTHER_EOF, ENDED_EOF, ENDED_ERROR };

static const char *const ending_names[] = {
	"EBADF", "the other file's end", "end of file", "another error",
};

static int fd = -1;
static enum pace pace;
static bool stop;
static size_t file_size;
static struct race_barrier start = RACE_BARRIER_INIT(2),
			   done = RACE_BARRIER_INIT(2);
static _Atomic int acted, chunks_read, chunks_reached;
static int chunks_wanted; /* by the main thread, before the round */
static _Atomic int act_returned; /* set as soon as the act's call returns */
static enum act cur_act;
static int pause_after; /* chunks the reader reads before pauses start */

/* What the reader saw in one round. */
static long wrong, other_chunks, after_other, late;
static uint64_t other_pos;
static enum ending ending;
static int last_errno;
static uint32_t first_wrong, first_wrong_want;

static unsigned char *buf;

/*
 * Whether the n bytes in buf are the records of a file whose records are
 * tag | index, from byte offset pos (a multiple of 4).
 */
static bool is_run(const unsigned char *p, size_t n, uint64_t pos,
		   uint32_t tag, uint32_t *ret_got, uint32_t *ret_want)
{
	const uint32_t *rec = (const uint32_t *)p;
	uint32_t first = (uint32_t)(pos / 4);

	for (size_t k = 0; k < n / 4; k++) {
		if (rec[k] != (tag | (first + (uint32_t)k))) {
			*ret_got = rec[k];
			*ret_want = tag | (first + (uint32_t)k);
			return false;
		}
	}
	return true;
}

static void read_round(void)
{
	struct iovec wide[WIDE_VECTORS];
	static timer_t timer;
	static bool have_timer;
	uint64_t pos = PREFIX * 4;
	size_t chunk = pace_chunk[pace];
	int chunks = 0;

	for (int i = 0; i < WIDE_VECTORS; i++)
		wide[i] = (struct iovec){ buf + 4 * i, 4 };
	if (pace == PAUSED && !have_timer) {
		timer = pause_timer_here();
		have_timer = true;
	}
	for (;;) {
		uint32_t got = 0, want = 0;
		bool after_act;
		ssize_t n;

		/* Pauses from a few chunks in: a pause lasts until the main
		 * thread has acted, which it does only after one. */
		if (pace == PAUSED && chunks++ == pause_after)
			pause_timer_set(timer, 50000, 50000);
		/* A read that starts after the act returned must see it. */
		after_act = atomic_load(&act_returned);
		n = pace == WIDE ? readv(fd, wide, WIDE_VECTORS)
				 : read(fd, buf, chunk);
		if (n > 0 && after_act && !replaces(cur_act))
			late++;
		if (n > 0) {
			uint32_t got2 = 0, want2 = 0;

			if (n % 4) {
				wrong++;
			} else if (!other_chunks &&
				   is_run(buf, (size_t)n, pos, 0, &got,
					  &want)) {
				pos += (uint64_t)n;
				late += after_act && replaces(cur_act);
			} else if (is_run(buf, (size_t)n, other_pos, OTHER_TAG,
					  &got2, &want2)) {
				other_pos += (uint64_t)n;
				other_chunks++;
			} else {
				if (other_chunks)
					got = got2, want = want2;
				if (!wrong++) {
					first_wrong = got;
					first_wrong_want = want;
				}
				if (other_chunks)
					after_other++;
			}
			if (atomic_fetch_add(&chunks_read, 1) + 1 ==
			    chunks_wanted)
				flag_raise(&chunks_reached);
			continue;
		}
		if (n == 0 && !after_act) {
			/* An end met by a read that began before the act
			 * returned may be the old file's: read again after
			 * the act. (Asking `acted` after the read would count
			 * the old file's end as the last word whenever the
			 * act lands between the read and that load.) */
			wait_flag(&acted);
			continue;
		}
		if (n == 0)
			ending = other_chunks ? ENDED_OTHER_EOF : ENDED_EOF;
		else if (errno == EBADF)
			ending = ENDED_EBADF;
		else
			ending = ENDED_ERROR, last_errno = errno;
		break;
	}
	if (pace == PAUSED)
		pause_timer_set(timer, 0, 0);
}

static void *reader(void *arg)
{
	(void)arg;
	for (;;) {
		race_barrier_wait(&start);
		if (stop)
			break;
		read_round();
		race_barrier_wait(&done);
	}
	return NULL;
}

/* Wait (asleep: the reader needs the CPU) for chunks_wanted chunks. */
static void wait_chunks(void)
{
	wait_flag(&chunks_reached);
}

static void do_act(enum act act, int other)
{
	int ret;

	switch (act) {
	case CLOSE:
		ret = close(fd);
		break;
	case DUP2:
		ret = dup2(other, fd) == fd ? 0 : -1;
		break;
	case DUP3:
		ret = dup3(other, fd, O_CLOEXEC) == fd ? 0 : -1;
		break;
	case CLOSE_RANGE:
		ret = close_range((unsigned int)fd, (unsigned int)fd, 0);
		break;
	case CLOSEFROM:
		closefrom(fd);
		ret = 0;
		break;
	default:
		ret = -1;
		break;
	}
	if (ret != 0)
		die("%s", act_names[act]);
}

/*
 * Anonymous memory where a freed mapping of size bytes would have been
 * (the kernel hands out the highest hole that fits, most often the last
 * one freed). Left untouched, it reads as zeros: never a record due.
 */
static void *trap(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		die("mmap the trap");
	return p;
}

static int open_mapped(const char *name)
{
	int f = open_ro(name);
	uint32_t v;

	for (uint32_t i = 0; i < PREFIX; i++)
		if (read(f, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
		    (v & ~OTHER_TAG) != i)
			die("the first records of %s", name);
	return f;
}

/* Totals of the rounds of one kind. */
struct tally {
	long rounds, wrong, after_other, late, other_whole, other_end_offset;
	long endings[4];
};

static void one_round(enum act act, int round, struct tally *t)
{
	struct mmapread_stats before, after;
	int other = -1, pauses;
	void *trapped;
	off_t end;

	get_stats(&before);
	if (replaces(act)) {
		other = open_mapped("other");
		if (lseek(other, 0, SEEK_SET) != 0)
			die("lseek other");
	}
	/* Opened last: closefrom(fd) closes nothing else. */
	fd = open_mapped(pace == BIG_CHUNKS ? "big" : "small");
	get_stats(&after);
	preload_check("thr_close: the files are mapped before the reader "
		      "starts",
		      after.files_mapped == before.files_mapped + 1 +
						    replaces(act));
	file_size = pace == BIG_CHUNKS ? BIG_SIZE : SMALL_SIZE;
	wrong = other_chunks = after_other = late = 0;
	cur_act = act;
	atomic_store(&act_returned, 0);
	other_pos = 0;
	ending = ENDED_ERROR;
	last_errno = 0;
	atomic_store(&acted, 0);
	atomic_store(&chunks_read, 0);
	atomic_store(&chunks_reached, 0);
	switch (pace) {
	case BIG_CHUNKS:
		chunks_wanted = (int[]){ 1, 8, 20, 40 }[round % 4];
		break;
	case PAUSED:
		chunks_wanted = 0; /* the main thread waits for a pause */
		break;
	case FAST:
		chunks_wanted = 100 + 37 * (round % 10);
		break;
	default:
		chunks_wanted = 10 + 7 * (round % 10);
		break;
	}
	pause_after = 1 + round % 7;
	pauses = atomic_load(&pause_count);
	atomic_store(&pause_on, 1);

	race_barrier_wait(&start);
	if (pace == PAUSED)
		/* Act while the reader is held, wherever that is. */
		wait_change(&pause_count, pauses, 0);
	else
		wait_chunks();
	do_act(act, other);
	atomic_store(&act_returned, 1);
	trapped = trap(file_size);
	atomic_store(&pause_on, 0);
	pause_release();
	flag_raise(&acted);
	race_barrier_wait(&done);

	if (wrong)
		fprintf(stderr, "thr_close: %s, %s, round %d: got record "
			"%#x where %#x was due\n", act_names[act],
			pace_names[pace], round, first_wrong,
			first_wrong_want);
	if (ending == ENDED_ERROR)
		fprintf(stderr, "thr_close: %s, %s, round %d: ended with "
			"%s\n", act_names[act], pace_names[pace], round,
			errname(last_errno));
	t->rounds++;
	t->wrong += wrong;
	t->after_other += after_other;
	t->late += late;
	t->endings[ending]++;
	if (replaces(act)) {
		t->other_whole += other_pos == OTHER_SIZE;
		end = lseek(fd, 0, SEEK_CUR);
		t->other_end_offset += end == OTHER_SIZE;
		close(fd);
		close(other);
	}
	munmap(trapped, file_size);
}

static void print_tally(enum act act, const struct tally *t)
{
	printf("%s, %s: %ld rounds, chunks with wrong bytes %ld (after the "
	       "other file's %ld), of the old file after the call returned "
	       "%ld; ended with", act_names[act], pace_names[pace], t->rounds,
	       t->wrong, t->after_other, t->late);
	for (int e = 0; e < 4; e++)
		if (t->endings[e])
			printf(" %s: %ld", ending_names[e], t->endings[e]);
	if (replaces(act))
		printf("; the other file read whole: %ld, its offset at its "
		       "end: %ld", t->other_whole, t->other_end_offset);
	putchar('\n');
}

int main(int argc, char **argv)
{
	pthread_t thread;
	int fdo;

	setup(argc, argv);
	watchdog(30);
	make_records("big", BIG_SIZE / 4);
	make_records("small", SMALL_SIZE / 4);
	fdo = open(dpath("other"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		   0644);
	if (fdo < 0)
		die("create other");
	append_records(fdo, OTHER_TAG, OTHER_SIZE / 4);
	close(fdo);
	buf = malloc(pace_chunk[BIG_CHUNKS]);
	if (!buf)
		die("malloc");
	if (pthread_create(&thread, NULL, reader, NULL) != 0)
		die("pthread_create");

	section(ACTS_TITLE);
	for (pace = 0; pace < PACES; pace++) {
		for (size_t a = 0; a < sizeof(acts_run) / sizeof(acts_run[0]);
		     a++) {
			enum act act = acts_run[a];
			struct tally t;

			memset(&t, 0, sizeof(t));
			for (int round = 0; round < pace_rounds[pace]; round++)
				one_round(act, round, &t);
			print_tally(act, &t);
		}
	}
	stop = true;
	race_barrier_wait(&start);
	pthread_join(thread, NULL);
	return 0;
}
