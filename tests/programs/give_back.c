/*
 * give_back: a served read that gets fewer bytes than it reserved (here
 * EFAULT: a bad buffer moves nothing) gives the rest of its reservation
 * back, and nothing in between may make that wrong.
 *
 * 1. A signal handler seeks to an absolute position while the interrupted
 *    code is inside such a read. The kernel orders the two calls: the
 *    offset ends where the seek put it, or where it was before the read,
 *    never anywhere else. A give-back that subtracts from the seek's
 *    target (found in review: 20000 became 15904, and a target below the
 *    reservation wrapped the offset word) is counted as "odd". A child
 *    process sends SIGUSR1 every 10 us or so; it is forked before the file
 *    is opened (a fork hands mapped descriptions back to the kernel).
 * 2. A thread that loops on such reads is cancelled at a random moment and
 *    joined: the offset must not have moved (a cancellation inside the
 *    kernel read that redoes the reservation's bytes used to lose it, and
 *    the hot path's reference with it).
 * Only the counts of odd outcomes are printed.
 */
#include "common.h"

#include <pthread.h>
#include <signal.h>

#define ROUNDS1 20000
#define ROUNDS2 200
#define START 50000
#define SEEK_TARGET_HIGH 20000
#define SEEK_TARGET_LOW 100

static int fd = -1;
static off_t seek_target;
static void *volatile bad_buffer; /* NULL: every read is EFAULT */

static void on_usr1(int sig)
{
	int saved_errno = errno;

	(void)sig;
	lseek(fd, seek_target, SEEK_SET);
	errno = saved_errno;
}

/* A fresh fd on the data file, mapped by a few small reads. */
static int open_mapped(void)
{
	char small[8];
	int ret = open_ro("data");

	for (int i = 0; i < 5; i++)
		if (read(ret, small, 1) != 1)
			die("the first reads");
	return ret;
}

static void part1(off_t target)
{
	struct sigaction sa;
	pid_t parent = getpid(), kid;
	long odd = 0, odd_results = 0;

	seek_target = target;
	section(target == SEEK_TARGET_HIGH
			? "1a. a handler seeks while a read gives bytes back"
			: "1b. the same, to below the reservation");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR1, &sa, NULL);
	kid = fork_child();
	if (kid == 0) {
		/* Every 10 us or so: often enough to land inside reads, not
		 * so often that the parent does nothing but run handlers. */
		struct timespec gap = { 0, 10000 };

		for (;;) {
			if (kill(parent, SIGUSR1) != 0)
				_exit(0);
			nanosleep(&gap, NULL);
		}
	}
	fd = open_mapped();
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	for (long i = 0; i < ROUNDS1; i++) {
		ssize_t ret;
		off_t cur;

		lseek(fd, START, SEEK_SET);
		ret = read(fd, bad_buffer, 4096);
		cur = lseek(fd, 0, SEEK_CUR);
		odd_results += ret != -1;
		odd += cur != START && cur != target;
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR1, &sa, NULL);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	close(fd);
	printf("%d reads: odd results %ld, odd offsets %ld\n", ROUNDS1,
	       odd_results, odd);
}

static void *efault_reader(void *arg)
{
	(void)arg;
	for (;;)
		(void)!read(fd, bad_buffer, 4096);
	return NULL;
}

static void part2(void)
{
	long moved = 0;

	section("2. a reader of a bad buffer cancelled at a random moment");
	fd = open_mapped();
	srand(7);
	for (int round = 0; round < ROUNDS2; round++) {
		struct timespec pause = { 0, 20000 + rand() % 50000 };
		pthread_t thread;

		lseek(fd, 0, SEEK_SET);
		if (pthread_create(&thread, NULL, efault_reader, NULL) != 0)
			die("pthread_create");
		nanosleep(&pause, NULL);
		pthread_cancel(thread);
		pthread_join(thread, NULL);
		moved += lseek(fd, 0, SEEK_CUR) != 0;
	}
	printf("%d cancelled readers: offset moved %ld times\n", ROUNDS2,
	       moved);
	close(fd);
}

int main(int argc, char **argv)
{
	struct mmapread_stats stats;

	setup(argc, argv);
	make_file("data", 1 << 20, 3);
	part1(SEEK_TARGET_HIGH);
	part1(SEEK_TARGET_LOW);
	part2();
	if (get_stats(&stats))
		preload_check("give_back: three mappings, none handed back by "
			      "the fork",
			      stats.files_mapped >= 3 &&
				      stats.fallbacks[MMAPREAD_FB_SHARED] == 0);
	return 0;
}
