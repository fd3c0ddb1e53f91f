/*
 * ign_exec: an ignored SIGBUS stays ignored across exec.
 *
 * SIG_IGN survives execve (a handler does not). mmapread installs its own
 * SIGBUS/SIGSEGV handler when it first maps a file, so a program that set
 * SIGBUS to SIG_IGN, before or after that, must still hand an ignored
 * SIGBUS to the programs it runs: through fork + execv, vfork + execv,
 * posix_spawn and system(). The new image reports what its
 * /proc/self/status says (the SigIgn bits of SIGBUS and SIGSEGV).
 * After an exec that fails (SIGBUS still ignored), mmapread must be in
 * charge of its faults again: a file mapped afterwards and truncated under
 * the mapping by another process reads short, as natively.
 */
#include "common.h"

#include <spawn.h>

#define DATA_SIZE (400 * 1024)

static char buf[4096];
static const char *self;

/* The image after exec: report, and no exit handlers. */
static int report(const char *label)
{
	char line[256];
	unsigned long long ign = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SigIgn: %llx", &ign) == 1)
			break;
	printf("%s: in the new image SIGBUS ignored: %d, SIGSEGV ignored: %d\n",
	       label, (int)(ign >> (SIGBUS - 1) & 1),
	       (int)(ign >> (SIGSEGV - 1) & 1));
	fflush(stdout);
	_exit(0);
}

static void wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("the child ended with status %#x\n", status);
}

static void run_reporters(const char *when)
{
	char label[128];
	char *argv[5] = { (char *)self, (char *)data_dir, "report", label, NULL };
	char cmd[8192];
	pid_t pid;

	snprintf(label, sizeof(label), "%s, fork + execv", when);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	wait_child(pid);

	snprintf(label, sizeof(label), "%s, vfork + execv", when);
	fflush(stdout);
	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		execv(self, argv);
		_exit(127);
	}
	wait_child(pid);

	snprintf(label, sizeof(label), "%s, posix_spawn", when);
	fflush(stdout);
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0)
		die("posix_spawn");
	wait_child(pid);

	snprintf(cmd, sizeof(cmd), "exec '%s' '%s' report '%s, system()'",
		 self, data_dir, when);
	fflush(stdout);
	printf("system() = %d\n", system(cmd));
}

static int map_file(const char *name)
{
	struct mmapread_stats st;
	int fd = open_ro(name);

	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
	get_stats(&st);
	preload_check("ign_exec: the file is mapped",
		      st.files_mapped >= 1 && st.reads_served >= 1);
	return fd;
}

int main(int argc, char **argv)
{
	char *bad_argv[] = { "nonexistent", NULL };
	int fd, fd2;

	if (argc > 3 && strcmp(argv[2], "report") == 0)
		return report(argv[3]);
	setup(argc, argv);
	self = realpath("/proc/self/exe", NULL);
	if (!self)
		die("realpath /proc/self/exe");
	make_file("data", DATA_SIZE, 71);
	make_file("data2", DATA_SIZE, 72);
	helper_start();

	section("SIGBUS ignored before the first mapping");
	printf("signal(SIGBUS, SIG_IGN) = %s\n",
	       signal(SIGBUS, SIG_IGN) == SIG_DFL ? "SIG_DFL" : "other");
	fd = map_file("data");
	run_reporters("ignored before");

	section("SIGBUS default, then ignored again after the mapping");
	printf("signal(SIGBUS, SIG_DFL) = %s\n",
	       signal(SIGBUS, SIG_DFL) == SIG_IGN ? "SIG_IGN" : "other");
	run_reporters("default");
	printf("signal(SIGBUS, SIG_IGN) = %s\n",
	       signal(SIGBUS, SIG_IGN) == SIG_DFL ? "SIG_DFL" : "other");
	run_reporters("ignored after");

	section("an exec that fails, then a file truncated under a new mapping");
	DO(-1, NULL, execv("/nonexistent/program", bad_argv),
	   "execv(/nonexistent/program)");
	DO(-1, NULL, execvp("nonexistent-program-name", bad_argv),
	   "execvp(nonexistent-program-name)");
	fd2 = map_file("data2");
	DO(fd2, NULL, lseek(fd2, 4096, SEEK_SET), "lseek(4096, SEEK_SET)");
	truncate_by_other_process("data2", 10000);
	for (int i = 0; i < 3; i++)
		DO(fd2, buf, read(fd2, buf, 4096), "read(4096)");
	DO(fd2, buf, pread(fd2, buf, 4096, 200000), "pread(4096, 200000)");
	DO(fd, buf, read(fd, buf, 16), "read(16) of the first file");
	close(fd);
	close(fd2);
	return 0;
}
