/*
 * race_handover: a thread reads records while another thread hands the
 * description's offset back to the kernel.
 *
 * mmapread gives a mapped description's offset back to the kernel before a
 * fork (the child shares it) and before sendfile, splice or copy_file_range
 * with a NULL input offset (the kernel reads at the file offset). A thread
 * that is reading at that moment must not notice: its records must stay in
 * sequence, none read twice, none skipped. The handover calls move no bytes
 * here (the child only _exit()s, the counts are 0), so natively the reader
 * sees records 0, 1, 2... to the end.
 *
 * Each round opens the file anew, the reader maps it with its first reads,
 * and the other thread hands the offset over once the reader is well into
 * the mapped part: in "free" rounds at once, while the reader runs; in
 * "paused" rounds while a timer signal holds the reader wherever it was
 * (see the pauses in common.h).
 */
#include "common.h"

#include <pthread.h>
#include <sys/sendfile.h>

#define RECORDS 16384u
#define PARTIES 2
#define HANDOVER_AT 32u /* the record after which the offset is handed over */
#define READ_ON 64u     /* records the reader reads after the handover */

enum kind { FORK, SENDFILE, SPLICE, COPY_FILE_RANGE, KINDS };

static const char *const kind_names[KINDS] = {
	"fork() (the child _exit()s at once)",
	"sendfile(devnull, fd, NULL, 0)",
	"splice(fd, NULL, pipe, NULL, 0, 0)",
	"copy_file_range(fd, NULL, out, NULL, 0, 0)",
};

static const int kind_rounds[KINDS] = { 400, 200, 200, 200 };

static int fd = -1;
static struct race_barrier start = RACE_BARRIER_INIT(PARTIES),
			   done = RACE_BARRIER_INIT(PARTIES);
static _Atomic int phase, handed, paused_round;
static long out_of_sequence[2], wrong_ends[2]; /* [paused] */

static void *reader(void *arg)
{
	timer_t timer = pause_timer_here();

	(void)arg;
	for (unsigned int round = 0;; round++) {
		uint32_t v, expect = 0, after = 0;
		bool paused, eof = true;

		race_barrier_wait(&start);
		if (fd < 0)
			break;
		paused = atomic_load(&paused_round);
		while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
			if (v != expect)
				out_of_sequence[paused]++;
			expect = v + 1;
			if (v == HANDOVER_AT) {
				/* Arming takes a while itself: the signal
				 * comes some microseconds later, somewhere
				 * in a read. */
				if (paused)
					pause_timer_set(timer, 25000 +
						(long)(round % 13) * 5000, 0);
				flag_raise(&phase);
			}
			if (atomic_load(&handed) && ++after == READ_ON) {
				eof = false;
				break;
			}
		}
		if (eof && expect != RECORDS)
			wrong_ends[paused]++;
		flag_raise(&phase);
		race_barrier_wait(&done);
		pause_timer_set(timer, 0, 0);
	}
	return NULL;
}

static long long hand_over(enum kind kind, int devnull, int pipe_in, int out)
{
	int status;
	pid_t pid;

	switch (kind) {
	case FORK:
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid");
		return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	case SENDFILE:
		return sendfile(devnull, fd, NULL, 0);
	case SPLICE:
		return splice(fd, NULL, pipe_in, NULL, 0, 0);
	default:
		return copy_file_range(fd, NULL, out, NULL, 0, 0);
	}
}

int main(int argc, char **argv)
{
	pthread_t thread;
	int devnull, p[2], out;

	setup(argc, argv);
	watchdog(30);
	make_records("records", RECORDS);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	out = open(dpath("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		   0644);
	if (devnull < 0 || out < 0 || pipe2(p, O_CLOEXEC) != 0)
		die("open the outputs");
	if (pthread_create(&thread, NULL, reader, NULL) != 0)
		die("pthread_create");

	section("the offset handed to the kernel while another thread reads");
	for (int kind = 0; kind < KINDS; kind++) {
		int rounds = kind_rounds[kind];
		long zero = 0, other = 0;

		memset(out_of_sequence, 0, sizeof(out_of_sequence));
		memset(wrong_ends, 0, sizeof(wrong_ends));
		for (int round = 0; round < rounds; round++) {
			bool paused = round % 2;
			int pauses = atomic_load(&pause_count);

			fd = open_ro("records");
			atomic_store(&phase, 0);
			atomic_store(&handed, 0);
			atomic_store(&paused_round, paused);
			race_barrier_wait(&start);
			wait_flag(&phase);
			if (paused)
				wait_change(&pause_count, pauses, 0);
			if (hand_over(kind, devnull, p[1], out) == 0)
				zero++;
			else
				other++;
			atomic_store(&handed, 1);
			pause_release();
			race_barrier_wait(&done);
			close(fd);
		}
		printf("%s: %d rounds: returned 0: %ld, otherwise: %ld\n",
		       kind_names[kind], rounds, zero, other);
		for (int paused = 0; paused < 2; paused++)
			printf("  %s rounds: records out of sequence: %ld, "
			       "rounds that met EOF early: %ld\n",
			       paused ? "paused" : "free",
			       out_of_sequence[paused], wrong_ends[paused]);
	}
	fd = -1;
	race_barrier_wait(&start);
	pthread_join(thread, NULL);
	return 0;
}
