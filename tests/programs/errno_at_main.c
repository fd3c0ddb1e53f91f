/*
 * errno_at_main: a program starts with errno 0.
 *
 * mmapread's constructor runs before main and makes system calls (fstat
 * and a high duplicate of stderr for the report when MMAPREAD_STATS=1,
 * the environment, dlsym): none of their errors may be left in errno. The
 * program runs itself again, with MMAPREAD_STATS=1 (in both runs, so the
 * preload's report goes to stderr), in the situations where those calls
 * fail: a low RLIMIT_NOFILE (no fd 1000 for the report), stderr closed,
 * a bad MMAPREAD_* value, and also plainly. Each new image prints errno as
 * main found it.
 */
#include "common.h"

#include <sys/resource.h>

static char buf[4096];

/* The new image: the first thing main does ends up here. */
static int report(int err, const char *label, bool want_preload)
{
	printf("%s: errno at the start of main: %s\n", label,
	       err ? errname(err) : "0");
	if (under_preload() != want_preload)
		printf("%s: the preload is %s in the new image\n", label,
		       under_preload() ? "unexpectedly loaded" : "MISSING");
	fflush(stdout);
	_exit(0);
}

enum setup { PLAIN, LOW_NOFILE, NO_STDERR, BAD_VALUE, BAD_VALUE_NO_STDERR };

static void run_self(const char *self, const char *label, enum setup how)
{
	char *argv[6] = { (char *)self, (char *)data_dir, "report",
			  (char *)label, under_preload() ? "1" : "0", NULL };
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct rlimit lim;

		setenv("MMAPREAD_STATS", "1", 1);
		switch (how) {
		case LOW_NOFILE:
			if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
				lim.rlim_cur = 64;
				setrlimit(RLIMIT_NOFILE, &lim);
			}
			break;
		case BAD_VALUE_NO_STDERR:
			close(2);
			/* fall through */
		case BAD_VALUE:
			setenv("MMAPREAD_MAX_SIZE", "a lot", 1);
			break;
		case NO_STDERR:
			close(2);
			break;
		default:
			break;
		}
		execv(self, argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("%s: the new image ended with status %#x\n", label,
		       status);
}

int main(int argc, char **argv)
{
	int err = errno;
	const char *self;
	struct mmapread_stats st;
	int fd;

	if (argc > 4 && strcmp(argv[2], "report") == 0)
		return report(err, argv[3], strcmp(argv[4], "1") == 0);
	setup(argc, argv);
	printf("this program: errno at the start of main: %s\n",
	       err ? errname(err) : "0");
	self = realpath("/proc/self/exe", NULL);
	if (!self)
		die("realpath /proc/self/exe");

	section("the program again, with MMAPREAD_STATS=1");
	run_self(self, "plainly", PLAIN);
	run_self(self, "RLIMIT_NOFILE 64", LOW_NOFILE);
	run_self(self, "stderr closed", NO_STDERR);
	run_self(self, "MMAPREAD_MAX_SIZE='a lot'", BAD_VALUE);
	run_self(self, "MMAPREAD_MAX_SIZE='a lot', stderr closed",
		 BAD_VALUE_NO_STDERR);

	section("a file read in small pieces");
	make_file("data", 100000, 81);
	fd = open_ro("data");
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	get_stats(&st);
	preload_check("errno_at_main: the file is mapped", st.files_mapped >= 1);
	close(fd);
	return 0;
}
