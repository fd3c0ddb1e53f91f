/*
 * sigbus_chain: the program's own SIGBUS and SIGSEGV stay its own.
 *
 * mmapread catches SIGBUS/SIGSEGV to survive files truncated under its
 * mappings, and must pass every other fault or signal to the program as
 * the kernel would have delivered it:
 *  - sigaction(SIGBUS, NULL, &old) returns the program's handler, before
 *    and after mmapread armed its own;
 *  - raise/kill/sigqueue(SIGBUS) reach the handler exactly once, with the
 *    right si_code and value, and with the right signals blocked inside;
 *  - a fault in the program's own mapping of a file it truncated reaches
 *    its handler (which siglongjmps out), with si_addr; a SIGSEGV too;
 *  - a file truncated under mmapread's mapping never reaches the handler;
 *  - SA_RESETHAND, SA_NODEFER, non-SA_SIGINFO handlers, signal(), SIG_IGN,
 *    SA_ONSTACK on an alternate stack;
 *  - forked children that fault with SIG_DFL, SIG_IGN or SIGBUS blocked
 *    die of SIGBUS, or exit from their handler;
 *  - last, in children that map files after the fork, with SIGBUS and
 *    SIGSEGV blocked, a read of a file truncated under the mapping, and a
 *    read into a bad buffer, must still give the kernel's answer (short
 *    count, EFAULT): the fault is mmapread's to recover, not a signal.
 */
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define PAGE 4096
#define DATA_SIZE (512 * 1024)

static volatile sig_atomic_t bus_count, segv_count, plain_count;
static volatile int last_sig, last_code, last_value;
static void *volatile last_addr;
static volatile int blocked_bus, blocked_segv, blocked_usr1, blocked_usr2;
static volatile int on_altstack;
static sigjmp_buf jump;
static volatile sig_atomic_t jump_armed;
static char altstack[65536];

static char buf[65536];

/* Hide a pointer from the optimiser (a NULL load must really happen). */
static void *launder(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

static void note_state(void)
{
	sigset_t cur;
	char local;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	blocked_bus = sigismember(&cur, SIGBUS);
	blocked_segv = sigismember(&cur, SIGSEGV);
	blocked_usr1 = sigismember(&cur, SIGUSR1);
	blocked_usr2 = sigismember(&cur, SIGUSR2);
	on_altstack = &local >= altstack && &local < altstack + sizeof(altstack);
}

static void on_bus(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	bus_count++;
	last_sig = sig;
	last_code = info->si_code;
	last_addr = info->si_addr;
	last_value = info->si_code == SI_QUEUE ? info->si_value.sival_int : -1;
	note_state();
	if (jump_armed) {
		jump_armed = 0;
		siglongjmp(jump, 1);
	}
}

static void on_segv(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	segv_count++;
	last_sig = sig;
	last_code = info->si_code;
	last_addr = info->si_addr;
	note_state();
	if (jump_armed) {
		jump_armed = 0;
		siglongjmp(jump, 1);
	}
}

static void on_plain(int sig)
{
	plain_count++;
	last_sig = sig;
	note_state();
	if (jump_armed) {
		jump_armed = 0;
		siglongjmp(jump, 1);
	}
}

static void exit_from_handler(int sig)
{
	(void)sig;
	_exit(42);
}

static const char *code_name(int sig, int code)
{
	static char other[32];

	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	default: break;
	}
	if (sig == SIGBUS && code == BUS_ADRERR)
		return "BUS_ADRERR";
	if (sig == SIGSEGV && code == SEGV_ACCERR)
		return "SEGV_ACCERR";
	if (sig == SIGSEGV && code == SEGV_MAPERR)
		return "SEGV_MAPERR";
	snprintf(other, sizeof(other), "code %d", code);
	return other;
}

static void show_delivery(const char *what)
{
	printf("%s: bus=%d segv=%d plain=%d sig=%d %s blocked inside: BUS=%d "
	       "SEGV=%d USR1=%d USR2=%d\n", what, (int)bus_count,
	       (int)segv_count, (int)plain_count, last_sig,
	       code_name(last_sig, last_code), blocked_bus, blocked_segv,
	       blocked_usr1, blocked_usr2);
}

static const char *handler_name(void (*handler)(int))
{
	void *h = (void *)handler;

	if (handler == SIG_DFL)
		return "SIG_DFL";
	if (handler == SIG_IGN)
		return "SIG_IGN";
	if (h == (void *)on_bus)
		return "on_bus";
	if (h == (void *)on_segv)
		return "on_segv";
	if (h == (void *)on_plain)
		return "on_plain";
	if (h == (void *)exit_from_handler)
		return "exit_from_handler";
	return "SOMETHING ELSE";
}

/* What sigaction(sig, NULL, &old) says. */
static void show_action(const char *what, int sig)
{
	struct sigaction old;
	int ret;

	memset(&old, 0, sizeof(old));
	errno = ERRNO_CANARY;
	ret = sigaction(sig, NULL, &old);
	printf("%s: sigaction(%s, NULL, &old) = %d%s handler=%s "
	       "SA_SIGINFO=%d SA_RESTART=%d SA_NODEFER=%d SA_RESETHAND=%d "
	       "SA_ONSTACK=%d mask: USR1=%d USR2=%d\n", what,
	       sig == SIGBUS ? "SIGBUS" : "SIGSEGV", ret,
	       errno == ERRNO_CANARY ? "" : " ERRNO-CHANGED",
	       handler_name(old.sa_handler), !!(old.sa_flags & SA_SIGINFO),
	       !!(old.sa_flags & SA_RESTART), !!(old.sa_flags & SA_NODEFER),
	       !!(old.sa_flags & SA_RESETHAND), !!(old.sa_flags & SA_ONSTACK),
	       sigismember(&old.sa_mask, SIGUSR1),
	       sigismember(&old.sa_mask, SIGUSR2));
	printf("%s: sa_flags=%#x\n", what, (unsigned)old.sa_flags);
}

static void install(int sig, void *handler, int flags, bool mask_usr1)
{
	struct sigaction act;

	memset(&act, 0, sizeof(act));
	if (flags & SA_SIGINFO)
		act.sa_sigaction = handler;
	else
		act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (mask_usr1)
		sigaddset(&act.sa_mask, SIGUSR1);
	act.sa_flags = flags;
	if (DO(-1, NULL, sigaction(sig, &act, NULL), "sigaction(%s, %s, flags %#x)",
	       sig == SIGBUS ? "SIGBUS" : "SIGSEGV",
	       handler_name(act.sa_handler), (unsigned)flags) != 0)
		die("sigaction");
}

/* The program's own shared mapping of a file it then truncates itself. */
static unsigned char *own_truncated_mapping(const char *name)
{
	unsigned char *map;
	int fd = open(dpath(name), O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create %s", name);
	append_pattern(fd, 0, 8 * PAGE, 20);
	map = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap %s", name);
	printf("own mapping, byte 5 pages in before truncation: %d\n",
	       map[5 * PAGE]);
	if (ftruncate(fd, 2 * PAGE) != 0)
		die("ftruncate %s", name);
	close(fd);
	return map;
}

static void touch(const char *what, volatile unsigned char *p, bool write)
{
	jump_armed = 1;
	if (sigsetjmp(jump, 1) == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
		jump_armed = 0;
		printf("%s: no fault\n", what);
	} else {
		printf("%s: the handler jumped out, si_addr %s\n", what,
		       last_addr == (void *)p ? "is the address" : "IS WRONG");
	}
}

static void read_some(int fd, int n, size_t count)
{
	for (int i = 0; i < n; i++)
		DO(fd, buf, read(fd, buf, count), "read(%zu)", count);
}

static int map_file(const char *name)
{
	int fd = open_ro(name);

	read_some(fd, 4, 2048);
	return fd;
}

/* Fork a child that runs fn and report how it ended. */
static void in_child(const char *what, void (*fn)(void))
{
	char label[160];
	pid_t pid;

	pid = fork_child();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	snprintf(label, sizeof(label), "child (%s)", what);
	report_child(pid, label);
}

static void child_dfl_fault(void)
{
	unsigned char *map = own_truncated_mapping("child1");

	signal(SIGBUS, SIG_DFL);
	(void)*(volatile unsigned char *)(map + 5 * PAGE);
}

static void child_dfl_raise(void)
{
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static void child_ign_fault(void)
{
	unsigned char *map = own_truncated_mapping("child2");

	signal(SIGBUS, SIG_IGN);
	raise(SIGBUS); /* ignored */
	(void)*(volatile unsigned char *)(map + 5 * PAGE);
}

static void child_blocked_fault(void)
{
	unsigned char *map = own_truncated_mapping("child3");
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGBUS);
	sigprocmask(SIG_BLOCK, &set, NULL);
	(void)*(volatile unsigned char *)(map + 5 * PAGE);
}

static void child_handler_exits(void)
{
	unsigned char *map = own_truncated_mapping("child4");

	signal(SIGBUS, exit_from_handler);
	(void)*(volatile unsigned char *)(map + 5 * PAGE);
}

static sigset_t bus_and_segv(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGBUS);
	sigaddset(&set, SIGSEGV);
	return set;
}

static void blocked_truncated_read(const char *name, const sigset_t *block)
{
	struct mmapread_stats st;
	int fd = map_file(name);

	get_stats(&st);
	preload_check("sigbus_chain: the child mapped its file",
		      st.files_mapped >= 1);
	truncate_by_other_process(name, 10000);
	sigprocmask(SIG_BLOCK, block, NULL);
	read_some(fd, 3, 4096);
	DO(fd, buf, pread(fd, buf, 4096, 200000), "pread(4096, 200000)");
	sigprocmask(SIG_UNBLOCK, block, NULL);
	show_delivery("child");
	close(fd);
}

static void blocked_bad_buffer(const char *name, const sigset_t *block)
{
	unsigned char *none = mmap(NULL, PAGE, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = map_file(name);

	if (none == MAP_FAILED)
		die("mmap PROT_NONE");
	sigprocmask(SIG_BLOCK, block, NULL);
	DO(fd, NULL, read(fd, none, 100), "read(PROT_NONE, 100)");
	DO(fd, NULL, pread(fd, none, 100, 0), "pread(PROT_NONE, 100, 0)");
	sigprocmask(SIG_UNBLOCK, block, NULL);
	show_delivery("child");
	close(fd);
}

static void child_blocked_truncated_read(void)
{
	sigset_t set = bus_and_segv();

	install(SIGBUS, on_bus, SA_SIGINFO, false);
	blocked_truncated_read("data4", &set);
}

static void child_blocked_bad_buffer(void)
{
	sigset_t set = bus_and_segv();

	install(SIGSEGV, on_segv, SA_SIGINFO, false);
	blocked_bad_buffer("data5", &set);
}

static void child_all_blocked(void)
{
	sigset_t set;

	sigfillset(&set);
	blocked_bad_buffer("data6", &set);
	blocked_truncated_read("data7", &set);
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	unsigned char *mine, *none;
	union sigval value = { .sival_int = 42 };
	stack_t ss;
	int fd, fd2, fd3;

	setup(argc, argv);
	make_file("data", DATA_SIZE, 21);
	make_file("data2", DATA_SIZE, 22);
	make_file("data3", DATA_SIZE, 23);
	make_file("data4", DATA_SIZE, 24);
	make_file("data5", DATA_SIZE, 25);
	make_file("data6", DATA_SIZE, 26);
	make_file("data7", DATA_SIZE, 27);
	/* Before anything is mapped: mmapread hands mappings back at fork. */
	helper_start();
	none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED)
		die("mmap PROT_NONE");

	section("the program's handlers, installed before any mapping");
	install(SIGBUS, on_bus, SA_SIGINFO | SA_RESTART, true);
	install(SIGSEGV, on_segv, SA_SIGINFO, false);
	show_action("before mapping", SIGBUS);

	section("a file mapped by mmapread");
	fd = map_file("data");
	show_action("after mapping", SIGBUS);
	show_action("after mapping", SIGSEGV);

	section("signals sent to the program");
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS)");
	show_delivery("raise");
	DO(-1, NULL, kill(getpid(), SIGBUS), "kill(getpid(), SIGBUS)");
	show_delivery("kill");
	DO(-1, NULL, sigqueue(getpid(), SIGBUS, value), "sigqueue(SIGBUS, 42)");
	show_delivery("sigqueue");
	printf("sigqueue value: %d\n", last_value);
	DO(-1, NULL, raise(SIGSEGV), "raise(SIGSEGV)");
	show_delivery("raise(SIGSEGV)");

	section("faults in the program's own memory");
	mine = own_truncated_mapping("mine");
	touch("own mapping, page 1 (inside the file)", mine + PAGE, false);
	touch("own mapping, page 5 (past EOF)", mine + 5 * PAGE, false);
	show_delivery("own SIGBUS");
	touch("own mapping, page 7 (past EOF)", mine + 7 * PAGE, false);
	show_delivery("own SIGBUS again");
	touch("PROT_NONE page, write", none, true);
	show_delivery("own SIGSEGV");
	touch("NULL page, read", launder(NULL), false);
	show_delivery("own SIGSEGV (NULL)");

	section("mmapread's mapping still serves, and its faults stay its own");
	get_stats(&before);
	read_some(fd, 3, 4096);
	get_stats(&after);
	preload_check("sigbus_chain: reads served after the program's faults",
		      after.reads_served > before.reads_served);
	fd2 = map_file("data2");
	truncate_by_other_process("data2", 10000);
	read_some(fd2, 3, 4096);
	DO(fd2, buf, pread(fd2, buf, 4096, 100000), "pread(4096, 100000)");
	show_delivery("after mmapread's truncated read");
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(0, SEEK_SET)");
	read_some(fd, 2, 4096);

	section("SA_RESETHAND|SA_NODEFER, a plain handler");
	install(SIGBUS, on_plain, SA_RESETHAND | SA_NODEFER, false);
	show_action("plain", SIGBUS);
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS)");
	show_delivery("plain");
	show_action("after delivery", SIGBUS);

	section("SIG_DFL: mmapread still recovers its own faults");
	fd3 = map_file("data3");
	truncate_by_other_process("data3", 6000);
	read_some(fd3, 3, 4096);
	printf("still alive\n");

	section("signal()");
	printf("signal(SIGBUS, on_plain) = %s\n",
	       handler_name(signal(SIGBUS, on_plain)));
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS)");
	show_delivery("signal()");
	printf("signal(SIGBUS, SIG_IGN) = %s\n",
	       handler_name(signal(SIGBUS, SIG_IGN)));
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS) ignored");
	show_delivery("ignored");
	show_action("SIG_IGN", SIGBUS);
	printf("signal(SIGBUS, SIG_DFL) = %s\n",
	       handler_name(signal(SIGBUS, SIG_DFL)));
	printf("signal(SIGBUS, on_plain) = %s\n",
	       handler_name(signal(SIGBUS, on_plain)));
	errno = ERRNO_CANARY;
	printf("signal(-1, on_plain) = %s %s\n",
	       signal(-1, on_plain) == SIG_ERR ? "SIG_ERR" : "not SIG_ERR",
	       errname(errno));
	DO(-1, NULL, sigaction(SIGKILL, NULL, NULL), "sigaction(SIGKILL, NULL, NULL)");
	DO(-1, NULL, sigaction(SIGBUS, NULL, NULL), "sigaction(SIGBUS, NULL, NULL)");

	section("an alternate signal stack");
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0)
		die("sigaltstack");
	install(SIGBUS, on_bus, SA_SIGINFO | SA_ONSTACK, false);
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS)");
	printf("SA_ONSTACK handler ran on the alternate stack: %d\n", on_altstack);
	install(SIGBUS, on_bus, SA_SIGINFO, false);
	DO(-1, NULL, raise(SIGBUS), "raise(SIGBUS)");
	printf("handler without SA_ONSTACK ran on the alternate stack: %d\n",
	       on_altstack);
	touch("own mapping, page 6 (past EOF)", mine + 6 * PAGE, false);
	printf("fault handler without SA_ONSTACK ran on the alternate stack: %d\n",
	       on_altstack);
	install(SIGSEGV, on_segv, SA_SIGINFO | SA_ONSTACK, false);
	touch("PROT_NONE page, read", none, false);
	printf("SA_ONSTACK SIGSEGV handler ran on the alternate stack: %d\n",
	       on_altstack);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);

	section("children that fault");
	in_child("SIG_DFL, own mapping past EOF", child_dfl_fault);
	in_child("SIG_DFL, raise", child_dfl_raise);
	in_child("SIG_IGN, own mapping past EOF", child_ign_fault);
	in_child("SIGBUS blocked, own mapping past EOF", child_blocked_fault);
	in_child("a handler that exits, own mapping past EOF",
		 child_handler_exits);
	printf("parent: bus=%d segv=%d plain=%d\n", (int)bus_count,
	       (int)segv_count, (int)plain_count);

	/*
	 * A program may block SIGBUS and SIGSEGV (threads often block all
	 * signals): the kernel still gives a short count and EFAULT, so a
	 * fault in mmapread's copy must not become the program's signal.
	 * Each case runs in a child that maps its file after the fork.
	 */
	section("SIGBUS and SIGSEGV blocked, in children that map after fork");
	in_child("SIGBUS blocked, a file truncated under the mapping",
		 child_blocked_truncated_read);
	in_child("SIGSEGV blocked, a read into a PROT_NONE buffer",
		 child_blocked_bad_buffer);
	in_child("all signals blocked, both", child_all_blocked);
	show_delivery("parent after the children");

	close(fd);
	close(fd2);
	close(fd3);
	return 0;
}
