/*
 * share_offsets: one open file description, mapped by mmapread, handed to
 * other processes and other program images, which must all find the
 * kernel's file offset exactly where the reads before them left it
 * (DESIGN-NOTES §2).
 *
 * Each scenario opens the file afresh (a description nobody shares yet),
 * reads it in 16-byte pieces until mmapread has mapped it and served from
 * the mapping, then hands it over:
 *   - fork, parent and child reading (and seeking) the description in
 *     turns, synchronised through two pipes;
 *   - posix_spawnp of head -c 37 and of dd bs=7 count=2 on it as stdin;
 *   - vfork and execvp of dd;
 *   - popen and system of shell commands reading it through <&N;
 *   - fexecve of this program, which reads on in its new image, then maps
 *     a fresh description and hands it to execveat (by directory and name),
 *     and that image to execveat with AT_EMPTY_PATH (the last image maps
 *     a file of its own as well, so that each image's report shows it).
 * After each hand-over the first image reads on too. Everything read is
 * printed in hex with the offset after it; compare.py runs the program
 * natively and under the preload and requires identical transcripts.
 *
 * Under the preload each scenario also proves that the description was
 * mapped and served before it was handed over: the live counters
 * (mmapread_get_stats, found with dlsym, absent natively) must have moved,
 * and a line "MMAPREAD-CHECK <scenario> ok|FAIL" goes to stderr.
 *
 * With --vfork-dup2 it runs only this: a vfork child dup2()s the mapped
 * description onto fd 0 and execs; the parent's own fd 0 (another file)
 * must read as before (pread and read), although the child ran in the
 * parent's memory, fd table included.
 *
 * usage: share_offsets [--vfork-dup2] FILE    (FILE: at least 64 KiB)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmapread.h"

#define CHUNK 16
/* More small reads than MMAPREAD_MAP_AFTER=3 needs to get a file mapped. */
#define MAP_READS 8

extern char **environ;

static int (*get_stats)(struct mmapread_stats *);
static const char *data_path;

/*
 * All output goes through write(2): children write to the same stdout, so
 * nothing may wait in a stdio buffer while they run.
 */
__attribute__((format(printf, 2, 3)))
static void put(int fd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	for (int done = 0; done < n;) {
		ssize_t w = write(fd, line + done, (size_t)(n - done));

		if (w <= 0)
			break;
		done += (int)w;
	}
}

#define say(...) put(1, __VA_ARGS__)

__attribute__((noreturn))
static void die(const char *what)
{
	say("SETUP FAILED: %s: %s\n", what, strerror(errno));
	exit(2);
}

static const char *hex(const unsigned char *p, ssize_t n, char *out)
{
	char *o = out;

	for (ssize_t i = 0; i < n; i++)
		o += sprintf(o, "%02x", p[i]);
	*o = '\0';
	return out;
}

static long long offset_of(int fd)
{
	off_t off = lseek(fd, 0, SEEK_CUR);

	return off < 0 ? -errno : (long long)off;
}

/* One read of up to len bytes, printed with the offset it leaves. */
static void read_show(int fd, size_t len, const char *who)
{
	unsigned char buf[256];
	char text[sizeof(buf) * 2 + 1];
	ssize_t n;

	if (len > sizeof(buf))
		len = sizeof(buf);
	n = read(fd, buf, len);
	if (n < 0)
		say("%s: read(%zu) = -1 %s off=%lld\n", who, len,
		    strerrorname_np(errno), offset_of(fd));
	else
		say("%s: read(%zu) = %zd [%s] off=%lld\n", who, len, n,
		    hex(buf, n, text), offset_of(fd));
}

static void show_pread(int fd, const char *who)
{
	unsigned char buf[CHUNK];
	char text[sizeof(buf) * 2 + 1];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n < 0)
		say("%s pread(%zu, 0) = -1 %s\n", who, sizeof(buf),
		    strerrorname_np(errno));
	else
		say("%s pread(%zu, 0) = %zd [%s]\n", who, sizeof(buf), n,
		    hex(buf, n, text));
}

/* Whatever a child wrote into the pipe (its first 128 bytes), in hex. */
static void drain_show(int rd, const char *who)
{
	unsigned char all[128], rest[256];
	char text[sizeof(all) * 2 + 1];
	size_t got = 0, total = 0;
	ssize_t n;

	while ((n = read(rd, rest, sizeof(rest))) > 0) {
		size_t keep = sizeof(all) - got;

		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(all + got, rest, keep);
		got += keep;
		total += (size_t)n;
	}
	close(rd);
	say("%s wrote %zu bytes [%s]\n", who, total,
	    hex(all, (ssize_t)got, text));
}

static void wait_show(pid_t pid, const char *who)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (WIFEXITED(status))
		say("%s exited %d\n", who, WEXITSTATUS(status));
	else
		say("%s killed by signal %d\n", who, WTERMSIG(status));
}

/*
 * A fresh description of the data file at offset start, read in small
 * pieces until mmapread maps it; under the preload the counters must show
 * that it was mapped and served from before anything else happens to it.
 */
static int map_fresh(long long start, const char *scenario)
{
	struct mmapread_stats before, after;
	int fd;

	if (get_stats)
		get_stats(&before);
	fd = open(data_path, O_RDONLY);
	if (fd < 0)
		die("open");
	say("\n== %s: fresh description, lseek to %lld = %lld\n", scenario,
	    start, (long long)lseek(fd, start, SEEK_SET));
	for (int i = 0; i < MAP_READS; i++)
		read_show(fd, CHUNK, "self");
	if (get_stats) {
		bool ok;

		get_stats(&after);
		ok = after.files_mapped > before.files_mapped &&
		     after.reads_served > before.reads_served;
		put(2, "MMAPREAD-CHECK %s: mapped and served before the "
		    "hand-over %s (files mapped +%llu, reads served +%llu)\n",
		    scenario, ok ? "ok" : "FAIL",
		    (unsigned long long)(after.files_mapped -
					 before.files_mapped),
		    (unsigned long long)(after.reads_served -
					 before.reads_served));
	}
	return fd;
}

/* The first image reads on after a hand-over, then lets the file go. */
static void read_on(int fd)
{
	for (int i = 0; i < 3; i++)
		read_show(fd, CHUNK, "self after");
	close(fd);
}

static void token_wait(int rd)
{
	char c;

	if (read(rd, &c, 1) != 1)
		die("token read");
}

static void token_pass(int wr)
{
	if (write(wr, "t", 1) != 1)
		die("token write");
}

/* Parent and child read one description in turns: every byte once. */
static void fork_turns(void)
{
	int fd = map_fresh(1000, "fork, reading in turns");
	int to_child[2], to_parent[2];
	unsigned char b[CHUNK];
	pid_t pid;

	if (pipe(to_child) || pipe(to_parent))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		for (int turn = 0; turn < 4; turn++) {
			token_wait(to_child[0]);
			read_show(fd, CHUNK, "child");
			if (turn == 1)
				say("child: lseek(+5, SEEK_CUR) = %lld\n",
				    (long long)lseek(fd, 5, SEEK_CUR));
			if (turn == 2)
				read_show(fd, 3, "child");
			token_pass(to_parent[1]);
		}
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	for (int turn = 0; turn < 4; turn++) {
		read_show(fd, CHUNK, "parent");
		if (turn == 2)
			say("parent: pread(8, 100) = %zd off=%lld\n",
			    pread(fd, b, sizeof(b) / 2, 100), offset_of(fd));
		token_pass(to_child[1]);
		token_wait(to_parent[0]);
	}
	close(to_child[1]);
	close(to_parent[0]);
	wait_show(pid, "child");
	read_on(fd);
}

/* argv run by posix_spawnp with the description as its stdin. */
static void spawn_on_stdin(const char *scenario, long long start,
			   char *const argv[])
{
	int fd = map_fresh(start, scenario);
	posix_spawn_file_actions_t fa;
	int p[2], err;
	pid_t pid;

	if (pipe(p))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		errno = err;
		die("posix_spawnp");
	}
	drain_show(p[0], argv[0]);
	wait_show(pid, argv[0]);
	read_on(fd);
}

static void vfork_exec(void)
{
	int fd = map_fresh(7000, "vfork and execvp dd bs=5 count=3");
	int p[2];
	pid_t pid;

	if (pipe(p))
		die("pipe");
	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		/* Only dup2, exec and _exit are safe in a vfork child. */
		if (dup2(fd, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(126);
		execlp("dd", "dd", "bs=5", "count=3", "status=none",
		       (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	drain_show(p[0], "dd");
	wait_show(pid, "dd");
	read_on(fd);
}

/*
 * A vfork child runs in its parent's memory until it execs, and changes
 * its own fds there (dup2 of a file onto fd 0 is the classic redirection):
 * the parent's own fd 0, another file, must still read as it did.
 */
static void vfork_dup2(void)
{
	int fd = map_fresh(7000, "vfork, dup2 onto fd 0 in the child");
	pid_t pid;

	show_pread(0, "self: own fd 0 before vfork:");
	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		if (dup2(fd, 0) < 0)
			_exit(126);
		execlp("true", "true", (char *)NULL);
		_exit(127);
	}
	wait_show(pid, "true");
	show_pread(0, "self: own fd 0 after the child's dup2:");
	read_show(0, CHUNK, "self: own fd 0");
	read_on(fd);
}

static void with_popen(const char *scenario, long long start,
		       const char *reader)
{
	int fd = map_fresh(start, scenario);
	char cmd[256], line[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s <&%d | od -An -tx1", reader, fd);
	f = popen(cmd, "r");
	if (!f)
		die("popen");
	while (fgets(line, sizeof(line), f))
		say("popen: %s", line);
	say("pclose = %d\n", pclose(f));
	read_on(fd);
}

static void with_system(const char *scenario, long long start,
			const char *reader)
{
	int fd = map_fresh(start, scenario);
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "%s <&%d | od -An -tx1", reader, fd);
	say("system = %d\n", system(cmd));
	read_on(fd);
}

static char *self_path(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n < 0)
		die("readlink /proc/self/exe");
	path[n] = '\0';
	return path;
}

/* The argv of the next image: the stage, the data file, the fd. */
static void next_argv(char *argv[5], const char *stage, int fd, char *num)
{
	sprintf(num, "%d", fd);
	argv[0] = "share_offsets";
	argv[1] = (char *)stage;
	argv[2] = (char *)data_path;
	argv[3] = num;
	argv[4] = NULL;
}

/* The first image ends here: this program again, by its fd. */
static void to_fexecve(void)
{
	int fd = map_fresh(20000, "fexecve of this program");
	int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	char *argv[5], num[16];

	if (exe < 0)
		die("open /proc/self/exe");
	next_argv(argv, "--after-fexecve", fd, num);
	fexecve(exe, argv, environ);
	die("fexecve");
}

/* A new image continues the description it was handed. */
static int continue_inherited(const char *how, const char *fdnum)
{
	int fd = atoi(fdnum);

	say("\n== new image after %s: inherited description at off=%lld\n",
	    how, offset_of(fd));
	read_on(fd);
	return fd;
}

static void after_fexecve(const char *fdnum)
{
	char *argv[5], num[16], *exe = self_path(), *slash;
	int fd, dir;

	continue_inherited("fexecve", fdnum);
	fd = map_fresh(30000, "execveat of this program by dirfd and name");
	slash = strrchr(exe, '/');
	*slash = '\0';
	dir = open(exe, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		die("open the program's directory");
	next_argv(argv, "--after-execveat", fd, num);
	execveat(dir, slash + 1, argv, environ, 0);
	die("execveat");
}

static void after_execveat(const char *fdnum)
{
	char *argv[5], num[16];
	int fd, exe;

	continue_inherited("execveat", fdnum);
	fd = map_fresh(40000, "execveat of this program with AT_EMPTY_PATH");
	exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0)
		die("open /proc/self/exe");
	next_argv(argv, "--after-empty-path", fd, num);
	execveat(exe, "", argv, environ, AT_EMPTY_PATH);
	die("execveat AT_EMPTY_PATH");
}

/* The last image maps a file of its own too: its report shows it ran. */
static void last_image(const char *fdnum)
{
	continue_inherited("execveat AT_EMPTY_PATH", fdnum);
	read_on(map_fresh(50000, "the last image reads a file of its own"));
}

int main(int argc, char **argv)
{
	char *head_argv[] = { "head", "-c", "37", NULL };
	char *dd_argv[] = { "dd", "bs=7", "count=2", NULL };

	*(void **)&get_stats = dlsym(RTLD_DEFAULT, "mmapread_get_stats");
	if (argc == 4) {
		data_path = argv[2];
		if (!strcmp(argv[1], "--after-fexecve"))
			after_fexecve(argv[3]);
		else if (!strcmp(argv[1], "--after-execveat"))
			after_execveat(argv[3]);
		else if (!strcmp(argv[1], "--after-empty-path"))
			last_image(argv[3]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--vfork-dup2")) {
		data_path = argv[2];
		vfork_dup2();
		return 0;
	}
	if (argc != 2) {
		put(2, "usage: share_offsets [--vfork-dup2] FILE\n");
		return 2;
	}
	data_path = argv[1];
	fork_turns();
	spawn_on_stdin("posix_spawnp head -c 37", 3000, head_argv);
	spawn_on_stdin("posix_spawnp dd bs=7 count=2", 4000, dd_argv);
	vfork_exec();
	with_popen("popen dd bs=7 count=2", 9000,
		   "dd bs=7 count=2 2>/dev/null");
	with_popen("popen head -c 21", 11000, "head -c 21");
	with_system("system head -c 23", 13000, "head -c 23");
	with_system("system dd bs=7 count=2", 15000,
		    "dd bs=7 count=2 2>/dev/null");
	to_fexecve();
	return 0;
}
