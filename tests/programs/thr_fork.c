/*
 * thr_fork: fork() while other threads open, read and close served files.
 *
 * A child of a threaded program starts with one thread, a copy of memory
 * taken while the other threads were anywhere (inside mmapread, too), and
 * the parent's fds, whose descriptions - and offsets - it shares with the
 * parent. It must be able to open and read files (served from mappings
 * again) and exit, and the offsets it shares must behave as the kernel's:
 * a record of a shared description goes to the parent or to the child,
 * never to both. race_handover covers one reader against a fork whose
 * child exits at once; here two threads go through 16 KiB files as fast
 * as they can (open, map after three reads, read the rest one record at a
 * time, close), while the main thread forks 200 children, one at a time.
 * Its pthread_atfork() prepare handler, which runs inside fork(), waits
 * until each busy thread has opened its next file (as a handler that
 * takes a lock another thread holds would), so each fork finds freshly
 * opened descriptions. Each child
 *  - reads a few records from each busy thread's current fd (inherited),
 *  - reads a file of its own in 16-byte reads and checks it,
 *  - exits (exit() or _exit(), alternately); an alarm ends a hung child.
 * Records are marked in shared memory by whoever read them; at the end
 * every record of every file the busy threads opened must have been read
 * exactly once, by the thread or by a child, and each thread's records
 * must come in increasing order. Only totals and verdicts are printed.
 */
#include "common.h"

#include <pthread.h>
#include <sys/mman.h>

#define BUSY 2
#define FILES_PER_THREAD 16 /* a generation reuses file g % 16 */
#define RECORDS 4096u       /* per file */
#define WORDS (RECORDS / 64)
#define MAX_GENERATIONS 4096
#define PREPARE_WAIT_NS 5000000ll
#define FORKS 200
#define CHILD_READS 8       /* records a child takes from each busy fd */
#define OWN_SIZE 4096u      /* the child's own file */
#define CHILD_ALARM 5

/* Shared with the children (MAP_SHARED): who read what. */
struct shared {
	_Atomic uint64_t seen[BUSY][MAX_GENERATIONS][WORDS];
	_Atomic long twice;           /* records marked a second time */
	_Atomic long child_strange;   /* records of no busy file */
	_Atomic long child_own_ok;    /* children whose own file read right */
	_Atomic long child_own_served; /* ... and was served (preload) */
};

static struct shared *shared;

static void mark(int id, int g, uint32_t rec)
{
	uint64_t bit = 1ull << (rec % 64);

	if (atomic_fetch_or(&shared->seen[id][g][rec / 64], bit) & bit)
		atomic_fetch_add(&shared->twice, 1);
}

/* Private: a child sees them as they were at the fork. */
static _Atomic int cur_gen[BUSY], cur_fd[BUSY] = { -1, -1 };
static _Atomic int stop;
static int generations[BUSY];
static long backwards[BUSY], strange[BUSY], errors[BUSY];

static uint32_t tag_of(int thread, int file)
{
	return (uint32_t)thread << 28 | (uint32_t)file << 24;
}

/* Not dpath(): its rotating buffers are not for threads. */
static const char *busy_path(int thread, int file)
{
	static char path[BUSY][4096];

	snprintf(path[thread], sizeof(path[thread]), "%s/busy-%d-%d",
		 data_dir, thread, file);
	return path[thread];
}

static void *busy(void *arg)
{
	int id = (int)(long)arg;
	int g;

	for (g = 0; g < MAX_GENERATIONS && !atomic_load(&stop); g++) {
		int file = g % FILES_PER_THREAD, fd;
		uint32_t tag = tag_of(id, file), v;
		long last = -1;
		ssize_t n;

		atomic_store(&cur_gen[id], g);
		fd = open(busy_path(id, file), O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			errors[id]++;
			continue;
		}
		atomic_store(&cur_fd[id], fd);
		while ((n = read(fd, &v, sizeof(v))) == (ssize_t)sizeof(v)) {
			uint32_t rec = v & 0xffffff;

			if ((v & 0xff000000u) != tag || rec >= RECORDS) {
				strange[id]++;
				continue;
			}
			if ((long)rec <= last)
				backwards[id]++;
			last = rec;
			mark(id, g, rec);
		}
		if (n != 0)
			errors[id]++;
		atomic_store(&cur_fd[id], -1);
		close(fd);
	}
	generations[id] = g;
	return NULL;
}

/* In fork(), before the clone: until each busy thread opens a new file. */
static void prepare(void)
{
	int gen[BUSY];
	long long start = mono_ns();

	for (int id = 0; id < BUSY; id++)
		gen[id] = atomic_load(&cur_gen[id]);
	for (int id = 0; id < BUSY; id++) {
		while ((atomic_load(&cur_gen[id]) == gen[id] ||
			atomic_load(&cur_fd[id]) < 0) &&
		       !atomic_load(&stop) &&
		       mono_ns() - start < PREPARE_WAIT_NS) {
			struct timespec ts = { 0, 20000 };

			nanosleep(&ts, NULL);
		}
	}
}

static void child_alarm(int sig)
{
	static const char msg[] = "WATCHDOG: a child hung\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(4);
	_exit(3);
}

/* The generation a record of file `file` read through thread id's fd
 * belongs to: the child's fd table may be a little older than its copy
 * of cur_gen, never by 16 generations. */
static int generation_of(int id, int file)
{
	int g = atomic_load(&cur_gen[id]);

	while (g >= 0 && g % FILES_PER_THREAD != file)
		g--;
	return g < MAX_GENERATIONS ? g : -1;
}

static void child_work(int n)
{
	struct mmapread_stats s;
	unsigned char own[16];
	uint64_t pos = 0;
	bool ok = true;
	int fd;

	signal(SIGALRM, child_alarm);
	alarm(CHILD_ALARM);
	for (int id = 0; id < BUSY; id++) {
		int busy_fd = atomic_load(&cur_fd[id]);

		if (busy_fd < 0)
			continue;
		for (int k = 0; k < CHILD_READS; k++) {
			uint32_t v, rec;
			int file, g;

			/* EOF, or EBADF when the copy of the fd table
			 * predates the open: both end it. */
			if (read(busy_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
				break;
			file = (int)(v >> 24 & 0xf);
			rec = v & 0xffffff;
			g = generation_of(id, file);
			if ((v >> 28) != (uint32_t)id || rec >= RECORDS ||
			    g < 0) {
				atomic_fetch_add(&shared->child_strange, 1);
				continue;
			}
			mark(id, g, rec);
		}
	}

	fd = open(dpath("own"), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		_exit(5);
	for (;;) {
		unsigned char want[sizeof(own)];
		ssize_t got = read(fd, own, sizeof(own));

		if (got <= 0) {
			ok = ok && got == 0 && pos == OWN_SIZE;
			break;
		}
		fill_pattern(want, pos, (size_t)got, 7);
		if (memcmp(own, want, (size_t)got) != 0)
			ok = false;
		pos += (uint64_t)got;
	}
	close(fd);
	if (ok)
		atomic_fetch_add(&shared->child_own_ok, 1);
	if (get_stats(&s) && s.reads_served > 0)
		atomic_fetch_add(&shared->child_own_served, 1);
	if (n % 2)
		_exit(0);
	exit(0);
}

int main(int argc, char **argv)
{
	long twice = 0, never = 0, child_exits = 0, checked = 0;
	long back = 0, odd = 0, errs = 0;
	struct mmapread_stats st;
	pthread_t thread[BUSY];

	setup(argc, argv);
	watchdog(60);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die("mmap shared");
	for (int id = 0; id < BUSY; id++) {
		for (int f = 0; f < FILES_PER_THREAD; f++) {
			int fd = open(busy_path(id, f),
				      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				      0644);

			if (fd < 0)
				die("create");
			append_records(fd, tag_of(id, f), RECORDS);
			close(fd);
		}
	}
	make_file("own", OWN_SIZE, 7);
	/* Looked up (dlsym) before there are threads, for the children. */
	get_stats(&st);
	for (long i = 0; i < BUSY; i++)
		if (pthread_create(&thread[i], NULL, busy, (void *)i) != 0)
			die("pthread_create");
	if (pthread_atfork(prepare, NULL, NULL) != 0)
		die("pthread_atfork");

	section("fork() while two threads open, read and close files");
	for (int n = 0; n < FORKS; n++) {
		int status;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			/* fork() in a threaded program: keep the no-core
			 * rule of fork_child() and nothing else. */
			struct rlimit no_core = { 0, 0 };

			setrlimit(RLIMIT_CORE, &no_core);
			child_work(n);
		}
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid");
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			child_exits++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < BUSY; i++)
		pthread_join(thread[i], NULL);

	for (int id = 0; id < BUSY; id++) {
		for (int g = 0; g < generations[id]; g++) {
			for (unsigned int w = 0; w < WORDS; w++)
				never += 64 - __builtin_popcountll(atomic_load(
						   &shared->seen[id][g][w]));
			checked++;
		}
		back += backwards[id];
		odd += strange[id];
		errs += errors[id];
	}
	twice = atomic_load(&shared->twice);
	printf("%d forks: children that exited 0: %ld, read their own file "
	       "right: %ld\n", FORKS, child_exits,
	       atomic_load(&shared->child_own_ok));
	printf("records of the busy threads' files: read twice %ld, never "
	       "read %ld, out of order %ld, not records %ld (threads) %ld "
	       "(children), errors %ld\n", twice, never, back, odd,
	       atomic_load(&shared->child_strange), errs);
	fprintf(stderr, "thr_fork: %ld generations checked\n", checked);
	get_stats(&st);
	preload_check("thr_fork: every child's own file was served",
		      atomic_load(&shared->child_own_served) == FORKS);
	preload_check("thr_fork: the busy threads' files were mapped",
		      st.files_mapped >= 100);
	return 0;
}
