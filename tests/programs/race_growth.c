/*
 * race_growth: two threads read one description past the end of a mapping
 * that the file has outgrown.
 *
 * A file is mapped by small reads, then another description appends many
 * records to it. Reads past the old end are the kernel's to answer, and
 * each must still take its own bytes from the one shared offset: when two
 * threads read 4-byte records until EOF, every record is read exactly once.
 * Rounds use read() in both threads, readv() in both, and one of each;
 * in the second half of them a timer holds the first reader every 50 us,
 * wherever it is, until the second has read a few more records (see the
 * pauses in common.h), so that the race shows on a loaded machine too.
 */
#include "common.h"

#include <pthread.h>

#define OLD_RECORDS 1024u  /* what is mapped */
#define NEW_RECORDS 24576u /* appended afterwards */
#define RECORDS (OLD_RECORDS + NEW_RECORDS)
#define ROUNDS 12
#define RELEASE_EVERY 16u
#define PREFIX 4u
#define PARTIES 3 /* the main thread and the two readers */

static int fd = -1;
static struct race_barrier start = RACE_BARRIER_INIT(PARTIES),
			    done = RACE_BARRIER_INIT(PARTIES);
static unsigned char seen[2][RECORDS];
static atomic_long strange[2];

/* Round r: reader id uses readv when this says so. */
static bool uses_readv(int round, long id)
{
	switch (round % 3) {
	case 0: return false;
	case 1: return true;
	default: return id == 1;
	}
}

static const char *round_kind(int round)
{
	static const char *const kinds[2][3] = {
		{ "read + read", "readv + readv", "read + readv" },
		{ "read + read, paused", "readv + readv, paused",
		  "read + readv, paused" },
	};

	return kinds[round >= ROUNDS / 2][round % 3];
}

static bool next_record(bool vector, uint32_t *v)
{
	struct iovec iov = { v, sizeof(*v) };

	if (vector)
		return readv(fd, &iov, 1) == (ssize_t)sizeof(*v);
	return read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v);
}

static void *reader(void *arg)
{
	long id = (long)arg;
	timer_t timer = { 0 };

	if (id == 0)
		timer = pause_timer_here();
	for (int round = 0; round < ROUNDS; round++) {
		bool vector = uses_readv(round, id);
		bool paused = round >= ROUNDS / 2;
		unsigned int count = 0;
		uint32_t v;

		race_barrier_wait(&start);
		if (id == 0 && paused)
			pause_timer_set(timer, 50000, 50000);
		while (next_record(vector, &v)) {
			if (v < RECORDS)
				seen[id][v]++;
			else
				atomic_fetch_add(&strange[id], 1);
			if (id == 1 && paused && ++count % RELEASE_EVERY == 0)
				pause_release();
		}
		if (id == 1)
			atomic_store(&pause_on, 0);
		if (id == 0 && paused)
			pause_timer_set(timer, 0, 0);
		race_barrier_wait(&done);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t thread[2];

	setup(argc, argv);
	watchdog(30);
	for (long i = 0; i < 2; i++)
		if (pthread_create(&thread[i], NULL, reader, (void *)i) != 0)
			die("pthread_create");

	section("map, append through another description, read on in two threads");
	for (int round = 0; round < ROUNDS; round++) {
		struct mmapread_stats before, after;
		long dup = 0, miss = 0, strays;
		uint32_t v;
		int app;

		memset(seen, 0, sizeof(seen));
		make_records("log", OLD_RECORDS);
		get_stats(&before);
		fd = open_ro("log");
		for (uint32_t i = 0; i < PREFIX; i++)
			if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
			    v != i)
				die("the first records");
		get_stats(&after);
		preload_check("race_growth: the file is mapped before it grows",
			      after.files_mapped > before.files_mapped &&
				      after.reads_served > before.reads_served);

		app = open(dpath("log"), O_WRONLY | O_APPEND | O_CLOEXEC);
		if (app < 0)
			die("open log for append");
		append_records(app, OLD_RECORDS, NEW_RECORDS);
		close(app);

		atomic_store(&pause_on, 1);
		race_barrier_wait(&start);
		race_barrier_wait(&done);

		for (uint32_t i = PREFIX; i < RECORDS; i++) {
			int c = seen[0][i] + seen[1][i];

			if (c > 1)
				dup += c - 1;
			else if (c == 0)
				miss++;
		}
		for (uint32_t i = 0; i < PREFIX; i++)
			dup += seen[0][i] + seen[1][i];
		strays = atomic_exchange(&strange[0], 0) +
			 atomic_exchange(&strange[1], 0);
		printf("round %d (%s): records read twice: %ld, never read: "
		       "%ld, not records: %ld", round, round_kind(round), dup,
		       miss, strays);
		put_offset(fd);
		putchar('\n');
		close(fd);
	}

	for (int i = 0; i < 2; i++)
		pthread_join(thread[i], NULL);
	return 0;
}
