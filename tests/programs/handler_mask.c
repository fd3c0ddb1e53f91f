/*
 * handler_mask: reads made by a signal handler whose sa_mask blocks
 * SIGSEGV and SIGBUS.
 *
 * Handlers are very often installed with sigfillset(&sa.sa_mask). While
 * such a handler runs, the kernel blocks every signal in the thread, so a
 * fault in mmapread's copy would not be delivered to mmapread: the kernel
 * would kill the process instead. The handler's reads must still give the
 * kernel's answers: -1 EFAULT for a buffer it cannot write, a short count
 * for a file truncated under the mapping by another process.
 *
 * Each case runs in a child that maps its file after the fork; the parent
 * reports how it ended, and last runs the first case itself.
 */
#include "common.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define DATA_SIZE (400 * 1024)
#define PAGE 4096

static char buf[8192];
static unsigned char *none; /* a PROT_NONE page */
static int handler_fd = -1;
static bool handler_truncated;

static void map_by_reading(int fd)
{
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 16), "read(16)");
}

static void on_usr1(int sig)
{
	struct iovec iov = { none, 16 };
	int fd = handler_fd;
	sigset_t mask;

	(void)sig;
	/* Asked of the kernel directly: pthread_sigmask() would tell
	 * mmapread what the mask is. */
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, _NSIG / 8);
	printf("in the handler: SIGSEGV blocked: %d, SIGBUS blocked: %d\n",
	       sigismember(&mask, SIGSEGV), sigismember(&mask, SIGBUS));
	if (handler_truncated) {
		for (int i = 0; i < 3; i++)
			DO(fd, buf, read(fd, buf, 4096), "handler: read(4096)");
		DO(fd, buf, pread(fd, buf, 4096, 200000), "handler: pread(4096, 200000)");
		return;
	}
	DO(fd, NULL, read(fd, none, 16), "handler: read(PROT_NONE, 16)");
	DO(fd, NULL, pread(fd, none, 16, 100), "handler: pread(PROT_NONE, 16, 100)");
	DO(fd, NULL, readv(fd, &iov, 1), "handler: readv({PROT_NONE, 16})");
	DO(fd, NULL, read(fd, (void *)(uintptr_t)4096, 16),
	   "handler: read((void *)4096, 16)");
	DO(fd, buf, read(fd, buf, 16), "handler: read(16)");
}

static void install(bool fill)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (fill) {
		sigfillset(&sa.sa_mask);
	} else {
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGSEGV);
		sigaddset(&sa.sa_mask, SIGBUS);
	}
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction(SIGUSR1)");
}

/* Map name, optionally have it truncated, and raise SIGUSR1. */
static void handler_reads(const char *name, bool fill, bool truncated)
{
	struct mmapread_stats st;

	handler_fd = open_ro(name);
	map_by_reading(handler_fd);
	get_stats(&st);
	preload_check("handler_mask: the file is mapped", st.files_mapped >= 1);
	install(fill);
	handler_truncated = truncated;
	if (truncated) {
		DO(handler_fd, NULL, lseek(handler_fd, 4096, SEEK_SET),
		   "lseek(4096, SEEK_SET)");
		truncate_by_other_process(name, 10000);
	}
	DO(-1, NULL, raise(SIGUSR1), "raise(SIGUSR1)");
	DO(handler_fd, buf, read(handler_fd, buf, 16), "after the handler: read(16)");
	close(handler_fd);
}

static void in_child(const char *what, const char *name, bool fill,
		     bool truncated)
{
	pid_t pid;

	section(what);
	pid = fork_child();
	if (pid == 0) {
		handler_reads(name, fill, truncated);
		fflush(stdout);
		_exit(0);
	}
	report_child(pid, "child");
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_file("data1", DATA_SIZE, 41);
	make_file("data2", DATA_SIZE, 42);
	make_file("data3", DATA_SIZE, 43);
	make_file("data4", DATA_SIZE, 44);
	/* Before anything is mapped: mmapread hands mappings back at fork. */
	helper_start();
	none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED)
		die("mmap PROT_NONE");

	in_child("sa_mask full: bad buffers", "data1", true, false);
	in_child("sa_mask {SIGSEGV, SIGBUS}: bad buffers", "data2", false, false);
	in_child("sa_mask full: a file truncated by another process", "data3",
		 true, true);
	section("sa_mask full: bad buffers, in the parent");
	handler_reads("data4", true, false);
	return 0;
}
