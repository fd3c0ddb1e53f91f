/*
 * sig_close: a signal handler opens, reads and closes served files while
 * the code it interrupts reads, opens and closes them too.
 *
 * open(), read() and close() are async-signal-safe: a handler may call
 * them at any moment, also while the interrupted code is inside mmapread
 * (looking up an fd, mapping a file, closing one and unmapping it). The
 * kernel makes each call atomic with respect to the handler: a handler's
 * read of an fd that the interrupted code is closing gets the bytes at the
 * shared offset or EBADF, and a read that the handler's close() overtakes
 * is EBADF. sig_reentry covers a handler that reads and seeks; here it
 * also opens and closes. A timer sends SIGUSR1 every 100 us (SIGALRM is
 * the watchdog's). Two parts:
 *
 * 1. The main thread opens a file of 4-byte records 3000 times, reads it
 *    in 4 KiB reads (mapped after three), stops at a point that varies
 *    (sometimes the end), and closes it. The handler reads two records
 *    from that fd when there is one, then opens a file of its own, reads
 *    it in single records until it is mapped, checks a pread(), and
 *    closes it. Per file, the main thread's and the handler's records
 *    together must be every record up to the last one read, each once,
 *    and a handler's read of the fd after its close() returned fails.
 *    The same with 16 MiB files read to their last 4 KiB (unmapping a
 *    populated mapping takes long enough for ticks to land inside
 *    close()), and with 10000 files closed right after they are mapped
 *    (so that ticks land inside the offset's hand-back at close; there
 *    the handler only reads, every 20 us). A handler that waited there
 *    for the code it interrupted would never let it finish: the
 *    watchdog turns that into a failure.
 * 2. The main thread reads two mapped files in turns, 16 bytes at a time;
 *    the handler takes two records of the first each time, and at its
 *    3rd to 10th call closes it (and then opens nothing, so that the
 *    number stays free). The main thread's reads of the first file must
 *    end with EBADF, with every record up to there read once, and no
 *    read that starts after the close may return data; the second file
 *    must be read whole.
 * Only verdicts and totals that the kernel's semantics fix are printed.
 */
#include "common.h"

#define P1_FILES 3000
#define P1_RECORDS 65536u      /* 256 KiB */
#define P1_CHUNK 4096u
#define OWN_RECORDS 64u
#define OWN_TAG 0x40000000u
#define P2_ROUNDS 20
#define P2_RECORDS 262144u     /* 1 MiB */
#define P2_OTHER_TAG 0x20000000u
#define P2_OTHER_RECORDS 16384u /* 64 KiB */
#define QUICK_FILES 10000
#define QUICK_RECORDS 1024u    /* 4 KiB */
#define LARGE_FILES 12
#define LARGE_RECORDS (4u << 20) /* 16 MiB */
#define TICK_NS 100000l
#define QUICK_TICK_NS 20000l

static volatile int g_fd = -1;      /* the fd the handler may read */
static volatile int closed_fd = -1; /* g_fd, once its close() returned */
static volatile bool first_closed;  /* part 2: the handler closed it */
static volatile long handler_late;  /* data from an fd already closed */
static volatile int close_at_call;  /* part 2: close g_fd at this call */
static volatile int handler_calls, handler_calls_total;
static volatile bool handler_opens = true;
static volatile long handler_bad, handler_reads, handler_ebadf;
static unsigned char seen[LARGE_RECORDS];
static char own_path[4096];

static void mark(const uint32_t *v, size_t n, uint32_t limit, long *bad)
{
	for (size_t k = 0; k < n; k++) {
		if (v[k] >= limit || (k && v[k] != v[k - 1] + 1))
			(*bad)++;
		else
			seen[v[k]]++;
	}
}

static void handler_own_file(void)
{
	uint32_t v;
	int fd = open(own_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		handler_bad++;
		return;
	}
	for (uint32_t i = 0; i < 5; i++)
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
		    v != (OWN_TAG | i))
			handler_bad++;
	if (pread(fd, &v, sizeof(v), 4 * 40) != (ssize_t)sizeof(v) ||
	    v != (OWN_TAG | 40))
		handler_bad++;
	if (close(fd) != 0)
		handler_bad++;
}

static void on_tick(int sig)
{
	int saved_errno = errno;
	int fd = g_fd;
	uint32_t v[2];
	ssize_t n;

	(void)sig;
	handler_calls++;
	handler_calls_total++;
	if (fd >= 0) {
		bool closed = closed_fd == fd;

		n = read(fd, v, sizeof(v));
		if (n > 0 && closed)
			handler_late++;
		if (n == (ssize_t)sizeof(v)) {
			long bad = 0;

			handler_reads++;
			mark(v, 2, sizeof(seen), &bad);
			handler_bad += bad;
		} else if (n < 0 && errno == EBADF) {
			handler_ebadf++;
		} else if (n != 0) {
			handler_bad++;
		}
		if (close_at_call && handler_calls >= close_at_call) {
			if (close(fd) != 0)
				handler_bad++;
			first_closed = true;
			g_fd = -1;
			close_at_call = 0;
			handler_opens = false;
		}
	}
	if (handler_opens)
		handler_own_file();
	errno = saved_errno;
}

static timer_t tick_timer;

static void set_ticks(long ns)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = ns;
	its.it_interval.tv_nsec = ns;
	if (timer_settime(tick_timer, 0, &its, NULL) != 0)
		die("timer_settime");
}

static void start_ticks(void)
{
	struct sigaction sa;
	struct sigevent sev;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction(SIGUSR1)");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tick_timer) != 0)
		die("timer_create");
	set_ticks(TICK_NS);
}

static void block_ticks(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Records up to the last one read, each once: (twice, holes). */
static void tally(uint32_t n, long *twice, long *holes)
{
	uint32_t top = 0;

	for (uint32_t i = 0; i < n; i++)
		if (seen[i])
			top = i + 1;
	for (uint32_t i = 0; i < top; i++) {
		if (seen[i] > 1)
			*twice += seen[i] - 1;
		else if (!seen[i])
			(*holes)++;
	}
}

static void part1(void)
{
	static uint32_t chunk[P1_CHUNK / 4];
	long twice = 0, holes = 0, main_bad = 0, closes_failed = 0;
	long ended = 0;

	section("1. the handler reads the fd being read, opens its own");
	for (int f = 0; f < P1_FILES; f++) {
		/* Stop after 3..66 chunks; every 8th file to the end. */
		int stop_after = f % 8 == 7 ? 1 << 30 : 3 + (f * 7) % 64;
		uint32_t last = 0;
		bool any = false;
		int fd;

		block_ticks(true);
		memset(seen, 0, P1_RECORDS);
		block_ticks(false);
		closed_fd = -1;
		fd = open(dpath("records"), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open records");
		g_fd = fd;
		for (int c = 0; c < stop_after; c++) {
			ssize_t n = read(fd, chunk, sizeof(chunk));

			if (n == 0) {
				ended++;
				break;
			}
			if (n < 0 || n % 4) {
				main_bad++;
				break;
			}
			if (any && chunk[0] <= last)
				main_bad++;
			last = chunk[n / 4 - 1];
			any = true;
			mark(chunk, (size_t)n / 4, P1_RECORDS, &main_bad);
		}
		if (close(fd) != 0)
			closes_failed++;
		closed_fd = fd;
		g_fd = -1;
		block_ticks(true);
		tally(P1_RECORDS, &twice, &holes);
		block_ticks(false);
	}
	printf("%d files: records read twice %ld, skipped %ld; main thread's "
	       "odd reads %ld, read to the end %ld, failed closes %ld\n",
	       P1_FILES, twice, holes, main_bad, ended, closes_failed);
}

/*
 * Files read almost to the end before the close: with the whole mapping
 * populated, unmapping it takes long enough that ticks land in it.
 */
static void part1_large(void)
{
	static uint32_t chunk[P1_CHUNK / 4];
	long twice = 0, holes = 0, main_bad = 0, closes_failed = 0;

	section("1b. the same with 16 MiB files read to their last 4 KiB");
	for (int f = 0; f < LARGE_FILES; f++) {
		uint32_t last = 0;
		bool any = false;
		int fd;

		block_ticks(true);
		memset(seen, 0, LARGE_RECORDS);
		block_ticks(false);
		closed_fd = -1;
		fd = open(dpath("large"), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open large");
		g_fd = fd;
		for (;;) {
			off_t off = lseek(fd, 0, SEEK_CUR);
			ssize_t n;

			if (off < 0 || off + (off_t)P1_CHUNK >=
					       (off_t)LARGE_RECORDS * 4)
				break;
			n = read(fd, chunk, sizeof(chunk));
			if (n <= 0 || n % 4) {
				main_bad++;
				break;
			}
			if (any && chunk[0] <= last)
				main_bad++;
			last = chunk[n / 4 - 1];
			any = true;
			mark(chunk, (size_t)n / 4, LARGE_RECORDS, &main_bad);
		}
		if (close(fd) != 0)
			closes_failed++;
		closed_fd = fd;
		g_fd = -1;
		block_ticks(true);
		tally(LARGE_RECORDS, &twice, &holes);
		block_ticks(false);
	}
	printf("%d files: records read twice %ld, skipped %ld; main thread's "
	       "odd reads %ld, failed closes %ld\n", LARGE_FILES, twice,
	       holes, main_bad, closes_failed);
}

/*
 * Many closes of files just mapped: each close hands a mapped offset back
 * to the kernel, so ticks often land in a hand-back, and a handler then
 * reads the fd being handed back.
 */
static void part1_quick(void)
{
	long twice = 0, holes = 0, main_bad = 0, closes_failed = 0;

	section("1c. files closed right after they are mapped");
	/* The handler only reads, so it may come five times as often. */
	block_ticks(true);
	handler_opens = false;
	set_ticks(QUICK_TICK_NS);
	block_ticks(false);
	for (int f = 0; f < QUICK_FILES; f++) {
		uint32_t v[4], last = 0;
		int fd;

		block_ticks(true);
		memset(seen, 0, QUICK_RECORDS);
		block_ticks(false);
		closed_fd = -1;
		fd = open(dpath("quick"), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open quick");
		g_fd = fd;
		for (int i = 0; i < 5; i++) {
			ssize_t n = read(fd, v, sizeof(v));

			if (n != (ssize_t)sizeof(v) || (i && v[0] <= last)) {
				main_bad++;
				break;
			}
			last = v[3];
			mark(v, 4, QUICK_RECORDS, &main_bad);
		}
		if (close(fd) != 0)
			closes_failed++;
		closed_fd = fd;
		g_fd = -1;
		block_ticks(true);
		tally(QUICK_RECORDS, &twice, &holes);
		block_ticks(false);
	}
	block_ticks(true);
	handler_opens = true;
	set_ticks(TICK_NS);
	block_ticks(false);
	printf("%d files: records read twice %ld, skipped %ld; main thread's "
	       "odd reads %ld, failed closes %ld\n", QUICK_FILES, twice,
	       holes, main_bad, closes_failed);
}

static int open_mapped(const char *name, uint32_t tag)
{
	int fd = open_ro(name);
	uint32_t v;

	for (uint32_t i = 0; i < 4; i++)
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
		    v != (tag | i))
			die("the first records of %s", name);
	return fd;
}

static void part2(void)
{
	long twice = 0, holes = 0, main_bad = 0, other_bad = 0;
	long ebadf_endings = 0, other_whole = 0, late = 0;

	section("2. the handler closes the fd being read");
	for (int r = 0; r < P2_ROUNDS; r++) {
		struct mmapread_stats before, after;
		int first, second;
		uint32_t other_next = 4, last = 3;
		bool first_done = false, second_done = false;

		/* Blocked before the first count: a tick between the two
		 * would map the handler's own file and count it too. */
		block_ticks(true);
		get_stats(&before);
		memset(seen, 0, P2_RECORDS);
		first = open_mapped("records2", 0);
		second = open_mapped("other2", P2_OTHER_TAG);
		for (uint32_t i = 0; i < 4; i++)
			seen[i] = 1;
		get_stats(&after);
		preload_check("sig_close: both files mapped before the "
			      "handler starts",
			      after.files_mapped == before.files_mapped + 2);
		handler_calls = 0;
		first_closed = false;
		closed_fd = -1;
		close_at_call = 3 + r % 8;
		g_fd = first;
		block_ticks(false);
		while (!first_done || !second_done) {
			uint32_t v[4];
			ssize_t n;

			if (!first_done) {
				bool closed = first_closed;

				n = read(first, v, sizeof(v));
				if (n > 0 && closed)
					late++;
				if (n > 0 && n % 4 == 0) {
					if (v[0] <= last)
						main_bad++;
					last = v[n / 4 - 1];
					mark(v, (size_t)n / 4, P2_RECORDS,
					     &main_bad);
				} else if (n < 0 && errno == EBADF) {
					ebadf_endings++;
					first_done = true;
				} else if (n != 0) {
					main_bad++;
					first_done = true;
				}
			}
			if (!second_done) {
				n = read(second, v, sizeof(v));
				if (n == 0) {
					other_whole += other_next ==
						       P2_OTHER_RECORDS;
					second_done = true;
				}
				for (ssize_t k = 0; k < n / 4; k++)
					if (v[k] != (P2_OTHER_TAG |
						     other_next++))
						other_bad++;
				if (n < 0)
					other_bad++, second_done = true;
			}
		}
		block_ticks(true);
		tally(P2_RECORDS, &twice, &holes);
		close(second);
		handler_opens = true;
		block_ticks(false);
	}
	printf("%d rounds: the first file's records read twice %ld, skipped "
	       "%ld, odd reads %ld, data after the close %ld, reads ended "
	       "with EBADF %ld; the second read whole %ld, wrong records "
	       "%ld\n", P2_ROUNDS, twice, holes, main_bad, late,
	       ebadf_endings, other_whole, other_bad);
}

int main(int argc, char **argv)
{
	int fd;

	setup(argc, argv);
	watchdog(10);
	make_records("records", P1_RECORDS);
	make_records("large", LARGE_RECORDS);
	make_records("quick", QUICK_RECORDS);
	make_records("records2", P2_RECORDS);
	fd = open(dpath("other2"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		die("create other2");
	append_records(fd, P2_OTHER_TAG, P2_OTHER_RECORDS);
	close(fd);
	fd = open(dpath("own"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		die("create own");
	append_records(fd, OWN_TAG, OWN_RECORDS);
	close(fd);
	snprintf(own_path, sizeof(own_path), "%s", dpath("own"));

	start_ticks();
	part1();
	part1_large();
	part1_quick();
	part2();
	block_ticks(true);
	printf("handler: odd results %ld, data from an fd already closed "
	       "%ld\n", handler_bad, handler_late);
	fprintf(stderr, "sig_close: %d handler calls, %ld reads, %ld EBADF\n",
		handler_calls_total, handler_reads, handler_ebadf);
	return 0;
}
