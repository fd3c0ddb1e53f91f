/*
 * sig_reentry: a signal handler reads the file the interrupted code reads.
 *
 * read() and lseek() are async-signal-safe, so a handler may call them on
 * a file at any moment, including while the interrupted thread is inside
 * mmapread deciding whether to map that very file. A SIGALRM handler that
 * runs every 200 us calls lseek(fd, 0, SEEK_CUR) and reads 8 bytes, while
 * the main thread opens the file over and over and reads it in 16-byte
 * chunks (so that a mapping decision is taken every few microseconds).
 *
 * Everything must finish, with each read whole and every chunk made of
 * consecutive records. A hang fails the test through a watchdog timer
 * (SIGALRM itself is busy), not through meson's timeout.
 */
#include "common.h"

#include <sys/time.h>

#define RECORDS 100000u
#define FILES 10000
#define CHUNK_RECORDS 4u
#define WATCHDOG_SECONDS 10

static volatile int g_fd = -1;
static volatile sig_atomic_t handler_bad;

static void on_alarm(int sig)
{
	int saved_errno = errno;
	int fd = g_fd;
	uint32_t v[2];
	off_t off;

	(void)sig;
	if (fd < 0)
		return;
	off = lseek(fd, 0, SEEK_CUR);
	if (off < 0 || off % 4)
		handler_bad++;
	if (read(fd, v, sizeof(v)) != (ssize_t)sizeof(v) || v[1] != v[0] + 1)
		handler_bad++;
	errno = saved_errno;
}

static void start_watchdog(void)
{
	struct sigaction sa;
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fired;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction(SIGUSR1)");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0)
		die("timer_create");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = WATCHDOG_SECONDS;
	if (timer_settime(timer, 0, &its, NULL) != 0)
		die("timer_settime");
}

int main(int argc, char **argv)
{
	struct itimerval tick = { { 0, 200 }, { 0, 200 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	long short_reads = 0, torn = 0, backwards = 0;
	struct sigaction sa;

	setup(argc, argv);
	start_watchdog();
	make_records("records", RECORDS);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die("sigaction(SIGALRM)");
	if (setitimer(ITIMER_REAL, &tick, NULL) != 0)
		die("setitimer");

	section("open, 4 reads of 16 bytes, close; SIGALRM every 200 us");
	for (int i = 0; i < FILES; i++) {
		int fd = open_ro("records");
		uint32_t last = 0;

		g_fd = fd;
		for (int r = 0; r < 4; r++) {
			uint32_t v[CHUNK_RECORDS];

			if (read(fd, v, sizeof(v)) != (ssize_t)sizeof(v)) {
				short_reads++;
				continue;
			}
			for (unsigned int k = 1; k < CHUNK_RECORDS; k++)
				if (v[k] != v[k - 1] + 1)
					torn++;
			if (r > 0 && v[0] <= last)
				backwards++;
			last = v[CHUNK_RECORDS - 1];
		}
		g_fd = -1;
		close(fd);
	}
	setitimer(ITIMER_REAL, &off, NULL);
	printf("%d files read: short reads: %ld, chunks not consecutive: %ld, "
	       "chunks out of order: %ld; handler calls that failed or were "
	       "odd: %d\n", FILES, short_reads, torn, backwards,
	       (int)handler_bad);
	return 0;
}
