/*
 * offset_handover: calls the kernel serves at the file offset, while
 * mmapread holds the offset of a mapped description in user space.
 *
 * After small reads have mapped a file, each of these must see (and move)
 * the offset exactly as if every earlier read had gone to the kernel:
 * sendfile, splice and copy_file_range with a NULL offset (the file's),
 * an OFD lock placed with l_whence = SEEK_CUR, stdio after fdopen, a forked child reading the same description, a
 * posix_spawn'ed dd reading it as its stdin, and the program itself after
 * execve (re-executed with the fd number, it reads on from where it was).
 * Reads through the original fd afterwards must continue from there too.
 */
#include "common.h"

#include <spawn.h>
#include <sys/sendfile.h>

#define DATA_SIZE (400 * 1024)

static char buf[65536];

static int open_and_map(const char *name)
{
	int fd = open_ro(name);

	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	return fd;
}

/* Drain what a call put into the pipe, and print its checksum. */
static void show_pipe(int rd, long long expect)
{
	long long got = 0;
	uint64_t hash = FNV_INIT;

	while (got < expect) {
		ssize_t n = read(rd, buf, (size_t)(expect - got));

		if (n <= 0)
			break;
		hash = fnv1a(hash, buf, (size_t)n);
		got += n;
	}
	printf("   the pipe got %lld bytes sum=%016" PRIx64 "\n", got, hash);
}

static void with_sendfile_splice(void)
{
	int fd, p[2], out;
	loff_t in_off = 100, out_off = 0;
	long long n;

	section("sendfile, splice, copy_file_range at the file offset");
	if (pipe2(p, 0) != 0)
		die("pipe2");
	fd = open_and_map("data");
	n = DO(fd, NULL, sendfile(p[1], fd, NULL, 300), "sendfile(pipe, fd, NULL, 300)");
	show_pipe(p[0], n);
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	n = DO(fd, NULL, splice(fd, NULL, p[1], NULL, 300, 0),
	       "splice(fd, NULL, pipe, NULL, 300, 0)");
	show_pipe(p[0], n);
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	n = DO(fd, NULL, sendfile(p[1], fd, (off_t *)&in_off, 300),
	       "sendfile(pipe, fd, &100, 300)");
	printf("   offset argument now %lld\n", (long long)in_off);
	show_pipe(p[0], n);
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");

	out = open(dpath("copy"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		die("create copy");
	DO(fd, NULL, copy_file_range(fd, NULL, out, &out_off, 500, 0),
	   "copy_file_range(fd, NULL, out, &0, 500, 0)");
	DO(-1, buf, pread(out, buf, 500, 0), "pread(copy, 500, 0)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, lseek(fd, 50000, SEEK_SET), "lseek(50000, SEEK_SET)");
	n = DO(fd, NULL, sendfile(p[1], fd, NULL, 200), "sendfile(pipe, fd, NULL, 200)");
	show_pipe(p[0], n);
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	close(out);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* Where an OFD lock set with l_whence = SEEK_CUR really starts. */
static void with_locks(void)
{
	struct flock lk;
	int fd, other;

	section("a lock with l_whence = SEEK_CUR starts at the file offset");
	fd = open_and_map("data");
	DO(fd, NULL, lseek(fd, 12345, SEEK_SET), "lseek(12345, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_RDLCK;
	lk.l_whence = SEEK_CUR;
	lk.l_start = 0;
	lk.l_len = 10;
	DO(fd, NULL, fcntl(fd, F_OFD_SETLK, &lk),
	   "fcntl(F_OFD_SETLK, F_RDLCK, SEEK_CUR + 0, len 10)");
	other = open(dpath("data"), O_RDWR);
	if (other < 0)
		die("open data O_RDWR");
	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	lk.l_start = 0;
	lk.l_len = 0;
	DO(-1, NULL, fcntl(other, F_OFD_GETLK, &lk),
	   "fcntl(other description, F_OFD_GETLK, F_WRLCK, whole file)");
	printf("   conflicting lock: type %s start %lld len %lld\n",
	       lk.l_type == F_RDLCK ? "F_RDLCK" :
	       lk.l_type == F_UNLCK ? "F_UNLCK" : "other",
	       (long long)lk.l_start, (long long)lk.l_len);
	close(other);
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	close(fd);
}

static void with_stdio(void)
{
	FILE *f;
	int fd;

	section("stdio after fdopen");
	fd = open_and_map("data");
	DO(fd, NULL, lseek(fd, 7777, SEEK_SET), "lseek(7777, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	f = fdopen(fd, "r");
	if (!f)
		die("fdopen");
	printf("ftell = %ld\n", ftell(f));
	printf("fread = %zu", fread(buf, 1, 300, f));
	printf(" sum=%016" PRIx64 "\n", sum_bytes(buf, 300));
	printf("ftell = %ld\n", ftell(f));
	printf("fseek(100, SEEK_CUR) = %d\n", fseek(f, 100, SEEK_CUR));
	printf("fgetc = %d\n", fgetc(f));
	printf("ftell = %ld\n", ftell(f));
	fclose(f);
}

static void with_fork(void)
{
	pid_t pid;
	int fd, status;

	section("a forked child reads the same description");
	fd = open_and_map("data");
	DO(fd, NULL, lseek(fd, 20000, SEEK_SET), "lseek(20000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		DO(fd, buf, read(fd, buf, 500), "child: read(500)");
		DO(fd, buf, read(fd, buf, 500), "child: read(500)");
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	for (int turn = 0; turn < 3; turn++) {
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			DO(fd, buf, read(fd, buf, 100), "child %d: read(100)", turn);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		DO(fd, buf, read(fd, buf, 100), "parent: read(100)");
	}
	close(fd);
}

static void with_spawn(void)
{
	posix_spawn_file_actions_t actions;
	char *argv[] = { "dd", "bs=123", "count=2", "status=none",
			 "of=/dev/null", NULL };
	pid_t pid;
	int fd, status, err;

	section("a spawned dd reads the description as its stdin");
	fd = open_and_map("data");
	DO(fd, NULL, lseek(fd, 30000, SEEK_SET), "lseek(30000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, fd, 0);
	fflush(stdout);
	err = posix_spawn(&pid, "/bin/dd", &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (err != 0) {
		errno = err;
		die("posix_spawn dd");
	}
	waitpid(pid, &status, 0);
	printf("dd bs=123 count=2 exited %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "lseek(0, SEEK_CUR)");
	DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	close(fd);
}

/* The second image: reads on from the inherited fd's offset. */
static int after_exec(int fd)
{
	printf("after execve: the fd is still open: %s\n",
	       fcntl(fd, F_GETFD) >= 0 ? "yes" : "no");
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "after execve: lseek(0, SEEK_CUR)");
	for (int i = 0; i < 3; i++)
		DO(fd, buf, read(fd, buf, 1000), "after execve: read(1000)");
	close(fd);
	return 0;
}

static void with_exec(const char *self)
{
	char fdarg[16];
	int fd;

	section("execve: the new image reads on from the offset");
	fd = open(dpath("data"), O_RDONLY); /* no O_CLOEXEC */
	if (fd < 0)
		die("open data");
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, lseek(fd, 40000, SEEK_SET), "lseek(40000, SEEK_SET)");
	DO(fd, buf, read(fd, buf, 1234), "read(1234)");
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	/* The image that run-compare checks the counters of ends here. */
	dump_stats("final");
	fflush(stdout);
	execl(self, self, data_dir, "--after-exec", fdarg, (char *)NULL);
	die("execl");
}

int main(int argc, char **argv)
{
	if (argc > 3 && strcmp(argv[2], "--after-exec") == 0) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		data_dir = argv[1];
		return after_exec(atoi(argv[3]));
	}
	setup(argc, argv);
	if (data_dir_owned)
		die("run me with a data directory (run-compare does)");
	make_file("data", DATA_SIZE, 30);
	with_sendfile_splice();
	with_locks();
	with_stdio();
	with_fork();
	with_spawn();
	with_exec("/proc/self/exe");
	return 0;
}
