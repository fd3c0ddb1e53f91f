/*
 * sig_eintr: a signal without SA_RESTART arrives every 100 us.
 *
 * A handler installed without SA_RESTART makes a blocking call that it
 * interrupts fail with EINTR: a read() of an empty pipe or FIFO returns -1
 * EINTR. A read() of a regular file never blocks in that sense: the kernel
 * finishes it whatever the signals, so no program sees EINTR (or a short
 * count) from one. mmapread must keep both: its served reads (and the
 * system calls it makes around them: fstat, lseek, mmap) must not turn a
 * signal into a failed or short read, and the reads it passes through
 * must fail exactly when the kernel's do. The timer runs throughout:
 *  - small read(), readv() and pread() calls of one mapped file;
 *  - 3000 files opened, read in 16-byte reads (mapped after three, so
 *    signals also land while mmapread decides and maps), closed;
 *  - 128 KiB reads of a file (never mapped, every read the kernel's);
 *  - reads of an empty pipe and of an empty FIFO that mmapread tracks:
 *    each blocks until the next signal, then fails with EINTR; data
 *    written afterwards is read as usual.
 */
#include "common.h"

#include <sys/uio.h>

#define BIG_RECORDS (1u << 20) /* 4 MiB */
#define SMALL_RECORDS 1024u    /* 4 KiB */
#define SMALL_FILES 3000
#define TICK_NS 100000l
#define BLOCKING_READS 20

static volatile long ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

/* Totals of one kind of call. */
struct tally {
	long calls, full, eintr, shorts, errors, wrong;
};

static void note(struct tally *t, ssize_t n, size_t want,
		 const uint32_t *v, uint32_t first)
{
	t->calls++;
	if (n < 0) {
		if (errno == EINTR)
			t->eintr++;
		else
			t->errors++;
		return;
	}
	if ((size_t)n != want) {
		t->shorts++;
		return;
	}
	t->full++;
	for (size_t k = 0; k < want / 4; k++)
		if (v[k] != first + k)
			t->wrong++;
}

static void print_tally(const char *what, const struct tally *t)
{
	printf("%s: %ld calls, %ld whole, EINTR %ld, short %ld, other "
	       "errors %ld, wrong records %ld\n", what, t->calls, t->full,
	       t->eintr, t->shorts, t->errors, t->wrong);
}

static void mapped_file(void)
{
	struct tally r = { 0 }, rv = { 0 }, pr = { 0 };
	uint32_t v[4], pos = 0;
	long before = ticks;
	int fd = open_ro("big");

	section("small reads of a mapped file");
	/* Up to the last 4 KiB: each kind of call in turn. */
	while (pos + 4 * 4 * 3 <= BIG_RECORDS - 1024) {
		struct iovec iov[2] = { { v, 4 }, { v + 1, 12 } };
		ssize_t n;

		n = read(fd, v, sizeof(v));
		note(&r, n, sizeof(v), v, pos);
		pos += n > 0 ? (uint32_t)n / 4 : 0;
		n = readv(fd, iov, 2);
		note(&rv, n, sizeof(v), v, pos);
		pos += n > 0 ? (uint32_t)n / 4 : 0;
		n = pread(fd, v, sizeof(v), (off_t)pos * 4 + 4096);
		note(&pr, n, sizeof(v), v, pos + 1024);
	}
	print_tally("read(16)", &r);
	print_tally("readv(4 + 12)", &rv);
	print_tally("pread(16)", &pr);
	printf("signals arrived meanwhile: %s", ticks > before ? "yes" : "no");
	put_offset(fd);
	putchar('\n');
	close(fd);
}

static void many_files(void)
{
	struct tally r = { 0 };
	long before = ticks;

	section("files opened, read a little, closed");
	for (int f = 0; f < SMALL_FILES; f++) {
		int fd = open_ro("small");
		uint32_t v[4];

		for (uint32_t i = 0; i < 8; i++) {
			ssize_t n = read(fd, v, sizeof(v));

			note(&r, n, sizeof(v), v, i * 4);
		}
		close(fd);
	}
	print_tally("read(16)", &r);
	printf("signals arrived meanwhile: %s\n",
	       ticks > before ? "yes" : "no");
}

static void large_reads(void)
{
	static uint32_t v[32768];
	struct tally r = { 0 };
	int fd = open_ro("big");
	long before = ticks;

	section("128 KiB reads (the kernel's)");
	for (uint32_t pos = 0; pos < BIG_RECORDS; pos += 32768) {
		ssize_t n = read(fd, v, sizeof(v));

		note(&r, n, sizeof(v), v, pos);
	}
	print_tally("read(128 KiB)", &r);
	printf("signals arrived meanwhile: %s\n",
	       ticks > before ? "yes" : "no");
	close(fd);
}

static void blocking(const char *what, int rfd, int wfd)
{
	struct tally r = { 0 }, rv = { 0 };
	char c[8];

	for (int i = 0; i < BLOCKING_READS; i++) {
		struct iovec iov = { c, sizeof(c) };

		r.calls++;
		if (read(rfd, c, sizeof(c)) < 0 && errno == EINTR)
			r.eintr++;
		rv.calls++;
		if (readv(rfd, &iov, 1) < 0 && errno == EINTR)
			rv.eintr++;
	}
	printf("%s, empty: read() %ld calls, EINTR %ld; readv() %ld calls, "
	       "EINTR %ld\n", what, r.calls, r.eintr, rv.calls, rv.eintr);
	write_all(wfd, "abc", 3);
	DO(-1, c, read(rfd, c, sizeof(c)), "%s with 3 bytes: read(8)", what);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;
	int p[2], rfd, wfd;

	setup(argc, argv);
	watchdog(20);
	make_records("big", BIG_RECORDS);
	make_records("small", SMALL_RECORDS);
	if (mkfifo(dpath("fifo"), 0600) != 0)
		die("mkfifo");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = 0; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction(SIGUSR1)");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0)
		die("timer_create");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = TICK_NS;
	its.it_interval.tv_nsec = TICK_NS;
	if (timer_settime(timer, 0, &its, NULL) != 0)
		die("timer_settime");

	mapped_file();
	many_files();
	large_reads();

	section("blocking reads");
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe");
	blocking("pipe", p[0], p[1]);
	rfd = open(dpath("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	wfd = open(dpath("fifo"), O_WRONLY | O_CLOEXEC);
	if (rfd < 0 || wfd < 0 || fcntl(rfd, F_SETFL, 0) != 0)
		die("open the fifo");
	blocking("FIFO", rfd, wfd);

	memset(&its, 0, sizeof(its));
	timer_settime(timer, 0, &its, NULL);
	return 0;
}
