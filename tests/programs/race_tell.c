/*
 * race_tell: one thread reads records while another asks for the offset.
 *
 * lseek(fd, 0, SEEK_CUR) only reads the offset; answered in user space for
 * a mapped file, it must never put back a value a concurrent read() has
 * already moved past. The reader's records must stay in sequence, and the
 * offsets the other thread sees must never go backwards.
 */
#include "common.h"

#include <pthread.h>

#define RECORDS 65536u
#define ROUNDS 8
#define PARTIES 2
#define TELL_AT 16u /* mapped by then: the other thread starts asking */

static int fd = -1;
static struct race_barrier start = RACE_BARRIER_INIT(PARTIES),
			    done = RACE_BARRIER_INIT(PARTIES);
static _Atomic int reading, phase;
static long out_of_sequence, short_rounds;

static void *reader(void *arg)
{
	(void)arg;
	for (int round = 0; round < ROUNDS; round++) {
		uint32_t v, expect = 0;

		race_barrier_wait(&start);
		while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
			if (v != expect)
				out_of_sequence++;
			expect = v + 1;
			/* On a busy machine, let the other thread in. */
			if (v % 2048 == 0)
				sched_yield();
			if (v == TELL_AT)
				flag_raise(&phase);
		}
		flag_raise(&phase);
		if (expect != RECORDS)
			short_rounds++;
		atomic_store(&reading, 0);
		race_barrier_wait(&done);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long backwards = 0, unaligned = 0, failed = 0;
	pthread_t thread;

	setup(argc, argv);
	watchdog(30);
	make_records("records", RECORDS);
	if (pthread_create(&thread, NULL, reader, NULL) != 0)
		die("pthread_create");

	section("lseek(fd, 0, SEEK_CUR) in a loop while another thread reads");
	for (int round = 0; round < ROUNDS; round++) {
		off_t last = 0;

		fd = open_ro("records");
		atomic_store(&reading, 1);
		atomic_store(&phase, 0);
		race_barrier_wait(&start);
		wait_flag(&phase);
		while (atomic_load(&reading)) {
			off_t now = lseek(fd, 0, SEEK_CUR);

			if (now < 0)
				failed++;
			else if (now < last)
				backwards++;
			else if (now % 4)
				unaligned++;
			if (now > last)
				last = now;
		}
		race_barrier_wait(&done);
		printf("round %d:", round);
		put_offset(fd);
		putchar('\n');
		close(fd);
	}
	pthread_join(thread, NULL);
	printf("%d rounds of %u records: out of sequence: %ld, rounds that "
	       "ended early or late: %ld\n", ROUNDS, RECORDS, out_of_sequence,
	       short_rounds);
	printf("lseek(SEEK_CUR): went backwards: %ld, not at a record "
	       "boundary: %ld, failed: %ld\n", backwards, unaligned, failed);
	return 0;
}
