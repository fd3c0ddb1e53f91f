/*
 * race_blocked: two threads that block signals share one offset.
 *
 * Worker threads often run with all signals blocked. mmapread cannot take
 * a fault in such a thread, so it has their reads answered by the kernel;
 * those reads must still move the one offset of the description exactly as
 * the kernel's own read() does: when two threads read 4-byte records from
 * one fd until EOF, every record is read exactly once, by one of them, and
 * the offset ends at the end of the file.
 *
 * Each round opens the file anew and maps it with small reads in the main
 * thread (signals open) before the readers start together. Rounds:
 *  - both readers block every signal;
 *  - the first blocks every signal, the second none, so that reads served
 *    from the mapping race with reads the kernel answers;
 *  - the same two with every signal blocked but SIGUSR2, which a timer
 *    sends to the first reader every 50 us to hold it wherever it is until
 *    the second has read a few more records (see the pauses in common.h):
 *    the race then shows on a loaded machine too.
 */
#include "common.h"

#include <pthread.h>

#define RECORDS 40000u
#define KINDS 4
#define ROUNDS_PER_KIND 3
#define ROUNDS (KINDS * ROUNDS_PER_KIND)
#define PREFIX 4u /* records the main thread reads to map the file */
#define PARTIES 3 /* the main thread and the two readers */
#define RELEASE_EVERY 16u

static const char *const kind_names[KINDS] = {
	"both readers block all signals",
	"one reader blocks all signals",
	"both block all but SIGUSR2, the first paused",
	"one blocks all but SIGUSR2 and is paused",
};

static int fd = -1;
static struct race_barrier start = RACE_BARRIER_INIT(PARTIES),
			   done = RACE_BARRIER_INIT(PARTIES);
static unsigned char seen[2][RECORDS];
static _Atomic long strange[2]; /* records that are not a record number */

static void *reader(void *arg)
{
	long id = (long)arg;
	timer_t timer = { 0 };
	sigset_t all, all_but_pause, none;

	sigfillset(&all);
	all_but_pause = all;
	sigdelset(&all_but_pause, PAUSE_SIGNAL);
	sigemptyset(&none);
	if (id == 0)
		timer = pause_timer_here();
	for (int round = 0; round < ROUNDS; round++) {
		int kind = round / ROUNDS_PER_KIND;
		bool paused = kind >= 2;
		unsigned int count = 0;
		uint32_t v;

		if (id == 0 || kind % 2 == 0)
			pthread_sigmask(SIG_SETMASK,
					paused ? &all_but_pause : &all, NULL);
		else
			pthread_sigmask(SIG_SETMASK, &none, NULL);
		race_barrier_wait(&start);
		if (id == 0 && paused)
			pause_timer_set(timer, 50000, 50000);
		while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
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
	sigset_t all, old;
	pthread_t thread[2];

	setup(argc, argv);
	watchdog(30);
	make_records("records", RECORDS);

	/* The readers start with every signal blocked; main keeps its mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (long i = 0; i < 2; i++)
		if (pthread_create(&thread[i], NULL, reader, (void *)i) != 0)
			die("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	section("two readers of one fd, 4-byte records until EOF");
	for (int round = 0; round < ROUNDS; round++) {
		struct mmapread_stats before, after;
		long dup = 0, miss = 0, strays;
		uint32_t v;

		memset(seen, 0, sizeof(seen));
		get_stats(&before);
		fd = open_ro("records");
		for (uint32_t i = 0; i < PREFIX; i++)
			if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
			    v != i)
				die("the first records");
		get_stats(&after);
		preload_check("race_blocked: the file is mapped before the "
			      "readers start",
			      after.files_mapped > before.files_mapped &&
				      after.reads_served > before.reads_served);

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
		       "%ld, not records: %ld", round,
		       kind_names[round / ROUNDS_PER_KIND], dup, miss, strays);
		put_offset(fd);
		putchar('\n');
		close(fd);
	}

	for (int i = 0; i < 2; i++)
		pthread_join(thread[i], NULL);
	return 0;
}
