/*
 * thr_readers: two to four threads read one mapped description at once.
 *
 * The kernel serialises read() and readv() on one open file description
 * (the position lock): each call takes its bytes from the shared offset
 * and moves it past them, so concurrent readers never get the same byte
 * and never skip one. A mapped description keeps that offset in user
 * space, and its reservations must give the same guarantee. race_blocked
 * and race_growth check two readers whose reads the kernel partly
 * answers; here every reader may be served from the mapping, there are up
 * to four of them, the calls are read() and readv() mixed, and the request
 * sizes vary (so one reader's span overlaps several of another's), with
 * the vectors of a readv() split inside a record.
 *
 * The file holds 4-byte records 0, 1, 2... Each reader checks that every
 * chunk it gets is a run of consecutive records (one reservation, one
 * copy), that its chunks come in increasing order (the offset never goes
 * back), and marks what it got; afterwards every record must have been
 * read exactly once and the offset must be at the end of the file. Only
 * these verdicts are printed, never who read what. After its first chunk
 * each reader waits until all have one, so that they all race from then
 * on even on a busy machine. In the "paused" rounds a timer then holds
 * the first reader wherever it is every 50 us until another reader has
 * done a few more reads (see the pauses in common.h).
 */
#include "common.h"

#include <pthread.h>

#define RECORDS 131072u
#define PREFIX 4u          /* records the main thread reads to map the file */
#define MAX_READERS 4
#define MAX_CHUNK 16u      /* records per call, at most (but WIDE) */
#define WIDE_RECORDS 65u   /* one record per vector */
#define RELEASE_EVERY 16u

enum call { ONLY_READ, ONLY_READV, MIXED, WIDE };

struct round_kind {
	int readers;
	enum call call;
	bool varied; /* request sizes 1..MAX_CHUNK records, else 1 */
	bool paused;
	const char *name;
};

/*
 * thr_readers_wide.c builds this file with THR_READERS_WIDE: readv() of
 * 65 vectors, one more than mmapread serves from a mapping, so that the
 * kernel answers each call at the offset mmapread holds.
 */
#ifdef THR_READERS_WIDE
static const struct round_kind kinds[] = {
	{ 2, WIDE, false, false, "2 readers, readv() of 65 records" },
	{ 4, WIDE, false, false, "4 readers, readv() of 65 records" },
	{ 4, WIDE, false, true, "4 readers, readv() of 65, the first paused" },
};
#else
static const struct round_kind kinds[] = {
	{ 2, ONLY_READ, false, false, "2 readers, read() of one record" },
	{ 3, ONLY_READ, true, false, "3 readers, read() of 1-16 records" },
	{ 4, ONLY_READV, true, false, "4 readers, readv() of 1-16 records" },
	{ 4, MIXED, true, false, "4 readers, read() and readv() mixed" },
	{ 2, MIXED, true, true, "2 readers, mixed, the first paused" },
	{ 4, MIXED, true, true, "4 readers, mixed, the first paused" },
};
#endif

#define KINDS (int)(sizeof(kinds) / sizeof(kinds[0]))
#define ROUNDS_PER_KIND 2
#define ROUNDS (KINDS * ROUNDS_PER_KIND)

static int fd = -1;
static _Atomic int round_no;
static struct race_barrier start = RACE_BARRIER_INIT(MAX_READERS + 1),
			   done = RACE_BARRIER_INIT(MAX_READERS + 1);
static unsigned char seen[MAX_READERS][RECORDS];
static _Atomic long torn, backwards, odd_results, strange, calls;
static _Atomic int readers_with_records; /* this round, after a chunk */

/* A fixed pseudo-random sequence per reader: the same in both runs. */
static unsigned int next_rand(unsigned int *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 16;
}

/* One call of nrec records; returns what the call returned. */
static ssize_t one_call(bool vector, uint32_t *buf, unsigned int nrec,
			unsigned int split)
{
	size_t len = nrec * sizeof(uint32_t);
	struct iovec iov[WIDE_RECORDS];
	size_t first, second;

	if (nrec == WIDE_RECORDS) {
		for (unsigned int i = 0; i < WIDE_RECORDS; i++)
			iov[i] = (struct iovec){ buf + i, sizeof(*buf) };
		return readv(fd, iov, WIDE_RECORDS);
	}
	if (!vector)
		return read(fd, buf, len);
	/* Vectors cut inside records: the bytes still land contiguously. */
	first = split % (len + 1);
	second = (len - first) / 2;
	iov[0] = (struct iovec){ buf, first };
	iov[1] = (struct iovec){ (char *)buf + first, second };
	iov[2] = (struct iovec){ (char *)buf + first + second,
				 len - first - second };
	return readv(fd, iov, 3);
}

/*
 * Once a reader has its first chunk it waits for the others to have
 * theirs: from then on all of them are running, whatever the load. (A
 * reader that meets the end of the file first would not wait: then the
 * round had no race to speak of, which the file's size rules out.)
 */
static void wait_for_all(int readers)
{
	int now = atomic_fetch_add(&readers_with_records, 1) + 1;

	wake_all(&readers_with_records);
	while (now < readers) {
		wait_change(&readers_with_records, now, 0);
		now = atomic_load(&readers_with_records);
	}
}

static void *reader(void *arg)
{
	long id = (long)arg;
	timer_t timer = { 0 };
	unsigned int state = 7u + (unsigned int)id * 1000003u;

	if (id == 0)
		timer = pause_timer_here();
	for (;;) {
		const struct round_kind *kind;
		uint32_t buf[WIDE_RECORDS], last = 0;
		unsigned int count = 0;
		bool any = false;

		race_barrier_wait(&start);
		if (atomic_load(&round_no) >= ROUNDS)
			break;
		kind = &kinds[atomic_load(&round_no) / ROUNDS_PER_KIND];
		if (id >= kind->readers)
			goto next;
		for (;;) {
			unsigned int nrec = kind->call == WIDE ? WIDE_RECORDS
					    : kind->varied
					    ? 1 + next_rand(&state) % MAX_CHUNK
					    : 1;
			bool vector = kind->call == ONLY_READV ||
				      (kind->call == MIXED &&
				       next_rand(&state) % 2);
			ssize_t n = one_call(vector, buf, nrec,
					     next_rand(&state));
			unsigned int got;

			atomic_fetch_add(&calls, 1);
			if (n == 0)
				break;
			if (n < 0 || n % 4 || (size_t)n > nrec * 4u) {
				atomic_fetch_add(&odd_results, 1);
				break;
			}
			got = (unsigned int)n / 4;
			if (any && buf[0] <= last)
				atomic_fetch_add(&backwards, 1);
			for (unsigned int k = 0; k < got; k++) {
				if (k && buf[k] != buf[k - 1] + 1)
					atomic_fetch_add(&torn, 1);
				if (buf[k] < RECORDS)
					seen[id][buf[k]]++;
				else
					atomic_fetch_add(&strange, 1);
			}
			last = buf[got - 1];
			if (!any) {
				any = true;
				wait_for_all(kind->readers);
				/* Not before: a pause lasts until another
				 * reader releases it. */
				if (id == 0 && kind->paused)
					pause_timer_set(timer, 50000, 50000);
			}
			if (id != 0 && kind->paused &&
			    ++count % RELEASE_EVERY == 0)
				pause_release();
		}
		/* Once a reader is done nobody may be left waiting on it. */
		if (id != 0)
			atomic_store(&pause_on, 0);
		if (id == 0 && kind->paused)
			pause_timer_set(timer, 0, 0);
next:
		race_barrier_wait(&done);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t thread[MAX_READERS];
	uint64_t served_calls = 0, all_calls = 0;

	setup(argc, argv);
	watchdog(30);
	make_records("records", RECORDS);
	for (long i = 0; i < MAX_READERS; i++)
		if (pthread_create(&thread[i], NULL, reader, (void *)i) != 0)
			die("pthread_create");

	section("readers of one description, 4-byte records until EOF");
	for (int round = 0; round < ROUNDS; round++) {
		const struct round_kind *kind = &kinds[round / ROUNDS_PER_KIND];
		struct mmapread_stats fresh, before, after;
		long dup = 0, miss = 0;
		uint32_t v;

		get_stats(&fresh);
		memset(seen, 0, sizeof(seen));
		atomic_store(&torn, 0);
		atomic_store(&backwards, 0);
		atomic_store(&odd_results, 0);
		atomic_store(&strange, 0);
		atomic_store(&calls, 0);
		atomic_store(&readers_with_records, 0);
		fd = open_ro("records");
		for (uint32_t i = 0; i < PREFIX; i++)
			if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
			    v != i)
				die("the first records");
		get_stats(&before);
		preload_check("thr_readers: the file is mapped before the "
			      "readers start",
			      before.files_mapped > fresh.files_mapped &&
				      before.reads_served > fresh.reads_served);

		atomic_store(&round_no, round);
		atomic_store(&pause_on, 1);
		race_barrier_wait(&start);
		race_barrier_wait(&done);
		get_stats(&after);
		served_calls += served_total(&after) - served_total(&before);
		all_calls += (uint64_t)atomic_load(&calls);

		for (uint32_t i = 0; i < RECORDS; i++) {
			int c = i < PREFIX;

			for (int r = 0; r < MAX_READERS; r++)
				c += seen[r][i];
			if (c > 1)
				dup += c - 1;
			else if (c == 0)
				miss++;
		}
		printf("round %d (%s): read twice %ld, never read %ld, "
		       "torn chunks %ld, out of order %ld, odd results %ld, "
		       "not records %ld", round, kind->name, dup, miss,
		       atomic_load(&torn), atomic_load(&backwards),
		       atomic_load(&odd_results), atomic_load(&strange));
		put_offset(fd);
		putchar('\n');
		close(fd);
	}
	atomic_store(&round_no, ROUNDS);
	race_barrier_wait(&start);
	for (int i = 0; i < MAX_READERS; i++)
		pthread_join(thread[i], NULL);
#ifndef THR_READERS_WIDE
	/* Most calls must have been served, or the races were not run. */
	preload_check("thr_readers: most reads were served from the mapping",
		      served_calls * 2 > all_calls);
#else
	/* None is served: the kernel answers each at the mapped offset. */
	(void)served_calls, (void)all_calls;
#endif
	return 0;
}
