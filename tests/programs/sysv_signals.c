/*
 * sysv_signals: the System V and BSD signal calls, once mmapread's SIGBUS
 * handler is in place.
 *
 * glibc's sighold(), sigrelse(), sigset(), sysv_signal(), bsd_signal(),
 * ssignal(), sigblock() and sigsetmask() change the mask or the action
 * through calls inside libc that no preload sees. Made after a mapping
 * armed mmapread's handler, they must neither hide a blocked SIGBUS from
 * mmapread nor replace its handler: a read of a file that another process
 * truncated under the mapping must still return what the kernel returns
 * (a short count, 0 past the end), and never reach the program's handler,
 * while a SIGBUS the program raises itself still does.
 *
 * Each case runs in a child that maps its file after the fork (mmapread
 * hands mappings back at fork); the parent reports how it ended.
 */
#include "common.h"

#include <sys/resource.h>
#include <sys/syscall.h>

/* sighold() and friends are deprecated, and what this test is about. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define DATA_SIZE (400 * 1024)
#define BUS_BIT (1 << (SIGBUS - 1)) /* sigmask(SIGBUS), a deprecated macro */

/* Gone from the headers with POSIX.1-2008, still in glibc. */
extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

static char buf[4096];
static volatile sig_atomic_t handler_calls, raising;

static void on_bus(int sig)
{
	static const char msg[] =
		"THE PROGRAM'S SIGBUS HANDLER GOT A FAULT OF MMAPREAD'S\n";

	(void)sig;
	if (!raising) {
		if (write(1, msg, sizeof(msg) - 1) < 0)
			_exit(4);
		_exit(3);
	}
	handler_calls++;
}

static const char *handler_name(void (*handler)(int))
{
	if (handler == SIG_DFL)
		return "SIG_DFL";
	if (handler == SIG_IGN)
		return "SIG_IGN";
	if (handler == SIG_HOLD)
		return "SIG_HOLD";
	if (handler == SIG_ERR)
		return "SIG_ERR";
	if (handler == on_bus)
		return "on_bus";
	return "SOMETHING ELSE";
}

static void show_disposition(const char *when)
{
	struct sigaction old;
	sigset_t mask;

	memset(&old, 0, sizeof(old));
	sigaction(SIGBUS, NULL, &old);
	/* Asked of the kernel directly: sigprocmask() would tell mmapread
	 * what the mask is. */
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, _NSIG / 8);
	printf("%s: SIGBUS handler %s, blocked %d\n", when,
	       handler_name(old.sa_handler), sigismember(&mask, SIGBUS));
}

static int map_file(const char *name)
{
	struct mmapread_stats st;
	int fd = open_ro(name);

	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
	get_stats(&st);
	preload_check("sysv_signals: the child mapped its file",
		      st.files_mapped >= 1 && st.reads_served >= 1);
	return fd;
}

/* Reads across and past the new end of a file truncated to 10000. */
static void truncated_reads(int fd, const char *name)
{
	DO(fd, NULL, lseek(fd, 4096, SEEK_SET), "lseek(4096, SEEK_SET)");
	truncate_by_other_process(name, 10000);
	for (int i = 0; i < 3; i++)
		DO(fd, buf, read(fd, buf, 4096), "read(4096)");
	DO(fd, buf, pread(fd, buf, 4096, 200000), "pread(4096, 200000)");
	DO(fd, buf, pread(fd, buf, 4096, 8000), "pread(4096, 8000)");
}

static void raise_bus(void)
{
	raising = 1;
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS)");
	raising = 0;
	printf("the program's handler ran %d times\n", (int)handler_calls);
}

static void case_sighold(const char *name)
{
	int fd = map_file(name);

	DO(-1, NULL, sighold(SIGBUS), "sighold(SIGBUS)");
	show_disposition("held");
	truncated_reads(fd, name);
	DO(-1, NULL, sigrelse(SIGBUS), "sigrelse(SIGBUS)");
	show_disposition("released");
	DO(fd, buf, pread(fd, buf, 100, 9950), "pread(100, 9950)");
}

static void case_sigblock(const char *name)
{
	int fd = map_file(name);
	int old;

	old = sigblock(BUS_BIT);
	printf("sigblock(sigmask(SIGBUS)): SIGBUS was blocked: %d\n",
	       !!(old & BUS_BIT));
	show_disposition("blocked");
	truncated_reads(fd, name);
	sigsetmask(old);
	show_disposition("sigsetmask(old)");
	DO(fd, buf, pread(fd, buf, 100, 9950), "pread(100, 9950)");
}

static void case_sigset(const char *name)
{
	int fd = map_file(name);

	printf("sigset(SIGBUS, on_bus) = %s\n",
	       handler_name(sigset(SIGBUS, on_bus)));
	show_disposition("after sigset");
	truncated_reads(fd, name);
	raise_bus();
	show_disposition("after the handler ran");
	DO(fd, buf, pread(fd, buf, 4096, 300000), "pread(4096, 300000)");
	printf("sigset(SIGBUS, SIG_DFL) = %s\n",
	       handler_name(sigset(SIGBUS, SIG_DFL)));
	DO(fd, buf, pread(fd, buf, 4096, 300000), "pread(4096, 300000)");
}

static void case_sysv_signal(const char *name)
{
	int fd = map_file(name);

	printf("sysv_signal(SIGBUS, on_bus) = %s\n",
	       handler_name(sysv_signal(SIGBUS, on_bus)));
	show_disposition("after sysv_signal");
	truncated_reads(fd, name);
	raise_bus();
	/* One-shot: the kernel reset it to SIG_DFL on delivery. */
	show_disposition("after the handler ran");
	DO(fd, buf, pread(fd, buf, 4096, 300000), "pread(4096, 300000)");
}

static void case_bsd_signal(const char *name)
{
	int fd = map_file(name);

	printf("bsd_signal(SIGBUS, on_bus) = %s\n",
	       handler_name(bsd_signal(SIGBUS, on_bus)));
	show_disposition("after bsd_signal");
	truncated_reads(fd, name);
	raise_bus();
	show_disposition("after the handler ran");
	DO(fd, buf, pread(fd, buf, 4096, 300000), "pread(4096, 300000)");
}

static void case_ssignal(const char *name)
{
	int fd = map_file(name);

	printf("ssignal(SIGBUS, on_bus) = %s\n",
	       handler_name(ssignal(SIGBUS, on_bus)));
	show_disposition("after ssignal");
	truncated_reads(fd, name);
	raise_bus();
	show_disposition("after the handler ran");
}

static void in_child(const char *what, void (*fn)(const char *),
		     const char *name)
{
	pid_t pid;

	section(what);
	pid = fork_child();
	if (pid == 0) {
		fn(name);
		fflush(stdout);
		_exit(0);
	}
	report_child(pid, "child");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *what;
		void (*fn)(const char *);
	} cases[] = {
		{ "sighold(SIGBUS), then sigrelse", case_sighold },
		{ "sigblock(sigmask(SIGBUS)), then sigsetmask", case_sigblock },
		{ "sigset(SIGBUS, handler)", case_sigset },
		{ "sysv_signal(SIGBUS, handler)", case_sysv_signal },
		{ "bsd_signal(SIGBUS, handler)", case_bsd_signal },
		{ "ssignal(SIGBUS, handler)", case_ssignal },
	};
	char name[32];
	int n = (int)(sizeof(cases) / sizeof(cases[0]));

	setup(argc, argv);
	for (int i = 0; i <= n; i++) {
		snprintf(name, sizeof(name), "data%d", i);
		make_file(name, DATA_SIZE, 50 + (unsigned int)i);
	}
	/* Before anything is mapped: mmapread hands mappings back at fork. */
	helper_start();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "data%d", i);
		in_child(cases[i].what, cases[i].fn, name);
	}
	section("sighold(SIGBUS) in the parent");
	snprintf(name, sizeof(name), "data%d", n);
	case_sighold(name);
	return 0;
}
