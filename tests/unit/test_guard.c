/*
 * Unit tests for the guarded copy and the fault handlers (mr_guard.h).
 *
 * mr_guard_arm() is once per process and changes signal dispositions for
 * good, and cmocka swaps its own SIGSEGV/SIGBUS handlers in and out around
 * every test. So each test that arms runs in a forked child of its own
 * (unit_run_child()), which starts from a known disposition: a sentinel
 * handler that reports any fault nobody expected and exits.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <time.h>
#include <ucontext.h>

#include "mr_guard.h"

#define PAGE 4096

/* ---- child scaffolding ------------------------------------------------ */

static void sentinel(int sig)
{
	dprintf(2, "unexpected %s reached the program's handler\n",
		strsignal(sig));
	_exit(3);
}

/* The program's handlers as they were before arming. */
static void set_sentinels(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sentinel;
	CHILD_ASSERT(sigaction(SIGSEGV, &sa, NULL) == 0);
	CHILD_ASSERT(sigaction(SIGBUS, &sa, NULL) == 0);
}

static void arm(void)
{
	set_sentinels();
	CHILD_ASSERT(!mr_guard_intercepts(SIGSEGV));
	CHILD_ASSERT(!mr_guard_intercepts(SIGBUS));
	CHILD_ASSERT(mr_guard_arm() == 0);
	CHILD_ASSERT(mr_guard_intercepts(SIGSEGV));
	CHILD_ASSERT(mr_guard_intercepts(SIGBUS));
	CHILD_ASSERT(!mr_guard_intercepts(SIGINT));
	CHILD_ASSERT(!mr_guard_intercepts(SIGUSR1));
}

static void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHILD_ASSERT(p != MAP_FAILED);
	return p;
}

/* An unlinked temporary file holding len bytes of a known pattern. */
static int temp_file(size_t len)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	unsigned char buf[PAGE];
	int fd;

	snprintf(path, sizeof(path), "%s/mr-guard-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	CHILD_ASSERT(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	for (size_t done = 0; done < len; done += sizeof(buf))
		CHILD_ASSERT(write(fd, buf, sizeof(buf)) == sizeof(buf));
	return fd;
}

/* ---- plain copies ----------------------------------------------------- */

/* No fault involved: safe in the test process itself. */
static void test_copy_normal(void **state)
{
	static const size_t sizes[] = { 0, 1, 7, 63, 4095, 4096, 65537,
					1 << 20 };
	const size_t max = 1 << 20;
	unsigned char *src = malloc(max), *dst = malloc(max + 16);

	(void)state;
	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < max; i++)
		src[i] = (unsigned char)(i * 13 + 5);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		memset(dst, 0xee, max + 16);
		assert_int_equal(mr_copy_guarded(dst, src, n), 0);
		if (n)
			assert_memory_equal(dst, src, n);
		/* Not one byte more. */
		for (size_t j = n; j < n + 16 && j < max + 16; j++)
			assert_int_equal(dst[j], 0xee);
	}
	/* Nothing to copy touches nothing, even through NULL. */
	assert_int_equal(mr_copy_guarded(NULL, NULL, 0), 0);
	free(src);
	free(dst);
}

/* ---- faults the guard turns into -1 ----------------------------------- */

static int sigbus_truncated_child(void)
{
	unsigned char buf[2 * PAGE];
	const unsigned char *map;
	int fd;

	arm();
	fd = temp_file(2 * PAGE);
	map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHILD_ASSERT(map != MAP_FAILED);
	CHILD_ASSERT(mr_copy_guarded(buf, map, 2 * PAGE) == 0);
	CHILD_ASSERT(buf[0] == 1 && buf[PAGE + 1] == 8);

	/* Shrunk to one page: the first page still copies, the second
	 * raises SIGBUS, which must come back as -1. */
	CHILD_ASSERT(ftruncate(fd, PAGE) == 0);
	CHILD_ASSERT(mr_copy_guarded(buf, map, PAGE) == 0);
	CHILD_ASSERT(memcmp(buf, map, PAGE) == 0);
	CHILD_ASSERT(mr_copy_guarded(buf, map, 2 * PAGE) == -1);
	CHILD_ASSERT(mr_copy_guarded(buf, map + PAGE, 1) == -1);

	/* Truncated to nothing. */
	CHILD_ASSERT(ftruncate(fd, 0) == 0);
	CHILD_ASSERT(mr_copy_guarded(buf, map, 1) == -1);
	CHILD_ASSERT(mr_copy_guarded(buf, map, 2 * PAGE) == -1);
	/* Recovery leaves the copy usable. */
	CHILD_ASSERT(mr_copy_guarded(buf, buf + PAGE, PAGE) == 0);
	close(fd);
	return 0;
}

static void test_sigbus_truncated_file(void **state)
{
	(void)state;
	unit_child_passes(sigbus_truncated_child);
}

static int sigsegv_buffer_child(void)
{
	char src[64] = "the quick brown fox";
	char *none, *ro, *half;

	arm();
	none = map_anon(PAGE, PROT_NONE);
	ro = map_anon(PAGE, PROT_READ);
	half = map_anon(2 * PAGE, PROT_READ | PROT_WRITE);
	CHILD_ASSERT(mprotect(half + PAGE, PAGE, PROT_NONE) == 0);

	/* Destinations the program cannot write: EFAULT, not a crash. */
	CHILD_ASSERT(mr_copy_guarded(none, src, 16) == -1);
	CHILD_ASSERT(mr_copy_guarded(ro, src, 16) == -1);
	CHILD_ASSERT(mr_copy_guarded(NULL, src, 1) == -1);
	/* Running off the end of a good page into a bad one. */
	CHILD_ASSERT(mr_copy_guarded(half + PAGE - 8, src, 16) == -1);
	/* A source that cannot be read. */
	CHILD_ASSERT(mr_copy_guarded(src, none, 16) == -1);

	/* And good copies still work afterwards. */
	CHILD_ASSERT(mr_copy_guarded(half, src, sizeof(src)) == 0);
	CHILD_ASSERT(memcmp(half, src, sizeof(src)) == 0);
	return 0;
}

static void test_sigsegv_bad_buffer(void **state)
{
	(void)state;
	unit_child_passes(sigsegv_buffer_child);
}

/* ---- the program's own handlers --------------------------------------- */

/* volatile: written before the fault, read in the handler. */
static char *volatile fault_page;
static volatile sig_atomic_t segv_count;
static void *volatile segv_addr;
static volatile int segv_code;
static volatile bool segv_mask_ok;

/* Fixes the fault so the faulting store can run again. */
static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	sigset_t now;

	(void)uctx;
	segv_count++;
	segv_addr = info->si_addr;
	segv_code = info->si_code;
	/* The program's sa_mask and the signal itself are blocked, as the
	 * kernel would have done for a handler installed directly. */
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	segv_mask_ok = sig == SIGSEGV && sigismember(&now, SIGUSR1) == 1 &&
		       sigismember(&now, SIGSEGV) == 1;
	if (mprotect(fault_page, PAGE, PROT_READ | PROT_WRITE) != 0) {
		dprintf(2, "on_segv: mprotect(%p): %s\n", (void *)fault_page,
			strerror(errno));
		_exit(4);
	}
}

static struct sigaction segv_action(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	return sa;
}

/* A real fault outside the guarded copy, fixed up by on_segv. */
static void fault_once(void)
{
	sigset_t now;

	fault_page = map_anon(PAGE, PROT_NONE);
	segv_count = 0;
	*(volatile char *)fault_page = 42;
	CHILD_ASSERT(segv_count == 1);
	CHILD_ASSERT(segv_addr == fault_page);
	CHILD_ASSERT(segv_code == SEGV_ACCERR);
	CHILD_ASSERT(segv_mask_ok);
	CHILD_ASSERT(fault_page[0] == 42);
	/* The handler's mask is gone once it returned. */
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	CHILD_ASSERT(!sigismember(&now, SIGUSR1));
}

static int chain_segv_child(void)
{
	struct sigaction act = segv_action(), old, kernel;
	char src[16] = "abc", *none;

	arm();
	/* The recorded action is what the program had before arming. */
	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, NULL, &old) == 0);
	CHILD_ASSERT(old.sa_handler == sentinel);

	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, &act, &old) == 0);
	CHILD_ASSERT(old.sa_handler == sentinel);
	CHILD_ASSERT(!(old.sa_flags & SA_SIGINFO));

	/* Asked back, the program sees its own handler... */
	memset(&old, 0, sizeof(old));
	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, NULL, &old) == 0);
	CHILD_ASSERT(old.sa_sigaction == on_segv);
	CHILD_ASSERT(old.sa_flags & SA_SIGINFO);
	CHILD_ASSERT(sigismember(&old.sa_mask, SIGUSR1) == 1);
	/* ...while the kernel still runs the guard's. */
	CHILD_ASSERT(sigaction(SIGSEGV, NULL, &kernel) == 0);
	CHILD_ASSERT(kernel.sa_sigaction != on_segv);
	CHILD_ASSERT(kernel.sa_handler != sentinel);

	/* A fault in the guarded copy is still the guard's alone. */
	none = map_anon(PAGE, PROT_NONE);
	segv_count = 0;
	CHILD_ASSERT(mr_copy_guarded(none, src, sizeof(src)) == -1);
	CHILD_ASSERT(segv_count == 0);

	/* Any other fault is the program's. */
	fault_once();

	/* Re-arming must not take the guard's handler for the program's. */
	CHILD_ASSERT(mr_guard_arm() == 0);
	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, NULL, &old) == 0);
	CHILD_ASSERT(old.sa_sigaction == on_segv);
	fault_once();
	return 0;
}

static void test_chain_segv_set_after_arm(void **state)
{
	(void)state;
	unit_child_passes(chain_segv_child);
}

/* The program's handler installed directly, before mmapread armed. */
static int chain_segv_before_arm_child(void)
{
	struct sigaction act = segv_action(), old;

	CHILD_ASSERT(sigaction(SIGSEGV, &act, NULL) == 0);
	CHILD_ASSERT(mr_guard_arm() == 0);
	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, NULL, &old) == 0);
	CHILD_ASSERT(old.sa_sigaction == on_segv);
	fault_once();
	return 0;
}

static void test_chain_segv_set_before_arm(void **state)
{
	(void)state;
	unit_child_passes(chain_segv_before_arm_child);
}

static volatile sig_atomic_t bus_count;

static void on_bus(int sig)
{
	if (sig == SIGBUS)
		bus_count++;
}

static struct sigaction simple_action(void (*handler)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	return sa;
}

static int raise_sigbus_child(void)
{
	struct sigaction act = simple_action(on_bus, 0), old;
	char src[8] = "x", *none;

	arm();
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, &old) == 0);
	CHILD_ASSERT(old.sa_handler == sentinel);

	/* A sent SIGBUS is no fault of the copy: the program's. */
	bus_count = 0;
	CHILD_ASSERT(raise(SIGBUS) == 0);
	CHILD_ASSERT(bus_count == 1);
	CHILD_ASSERT(raise(SIGBUS) == 0);
	CHILD_ASSERT(bus_count == 2);

	/* The guard still recovers its own faults, without telling the
	 * program's handler. */
	none = map_anon(PAGE, PROT_NONE);
	CHILD_ASSERT(mr_copy_guarded(none, src, 1) == -1);
	CHILD_ASSERT(bus_count == 2);
	return 0;
}

static void test_raise_sigbus_reaches_program(void **state)
{
	(void)state;
	unit_child_passes(raise_sigbus_child);
}

static int resethand_child(void)
{
	struct sigaction act = simple_action(on_bus, SA_RESETHAND), old;

	arm();
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);
	bus_count = 0;
	CHILD_ASSERT(raise(SIGBUS) == 0);
	CHILD_ASSERT(bus_count == 1);
	/* One-shot: the program now has the default action recorded. */
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, NULL, &old) == 0);
	CHILD_ASSERT(old.sa_handler == SIG_DFL);
	return 0;
}

static void test_sa_resethand(void **state)
{
	(void)state;
	unit_child_passes(resethand_child);
}

static int ignored_sigbus_child(void)
{
	struct sigaction act = simple_action(SIG_IGN, 0);

	arm();
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);
	CHILD_ASSERT(raise(SIGBUS) == 0);
	return 0;
}

static void test_raise_sigbus_ignored(void **state)
{
	(void)state;
	unit_child_passes(ignored_sigbus_child);
}

/* The default action kills, whether the signal is sent or a real fault. */
static int default_raise_child(void)
{
	struct sigaction act = simple_action(SIG_DFL, 0);

	arm();
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);
	raise(SIGBUS);
	dprintf(2, "survived a SIGBUS whose action is SIG_DFL\n");
	return 0;
}

static void test_raise_sigbus_default_kills(void **state)
{
	(void)state;
	unit_child_dies_of(default_raise_child, SIGBUS);
}

static int default_fault_child(void)
{
	struct sigaction act = simple_action(SIG_DFL, 0);
	char *none;

	arm();
	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, &act, NULL) == 0);
	none = map_anon(PAGE, PROT_NONE);
	*(volatile char *)none = 1;
	dprintf(2, "survived a SIGSEGV whose action is SIG_DFL\n");
	return 0;
}

static void test_fault_default_kills(void **state)
{
	(void)state;
	unit_child_dies_of(default_fault_child, SIGSEGV);
}

/* A real fault cannot be ignored: the kernel kills, and so must we. */
static int ignored_fault_child(void)
{
	struct sigaction act = simple_action(SIG_IGN, 0);
	char *none;

	arm();
	CHILD_ASSERT(mr_guard_sigaction(SIGSEGV, &act, NULL) == 0);
	none = map_anon(PAGE, PROT_NONE);
	*(volatile char *)none = 1;
	dprintf(2, "survived a SIGSEGV fault whose action is SIG_IGN\n");
	return 0;
}

static void test_fault_ignored_kills(void **state)
{
	(void)state;
	unit_child_dies_of(ignored_fault_child, SIGSEGV);
}

/* ---- a signal sent while a copy runs ---------------------------------- */

/* Where the copy can be interrupted (preload/guard.c; hidden, not static):
 * at the instruction, or at the abort label when the kernel restarts the
 * copy as a restartable sequence; in its first pass or in a retry. */
extern const char mr_copy_guarded_insn[];
extern const char mr_copy_guarded_abort[];
extern const char mr_copy_retry_insn[];
extern const char mr_copy_retry_abort[];

static bool rip_is(greg_t rip, const char *label)
{
	return rip == (greg_t)(uintptr_t)label;
}

#define COPY_LEN (16u << 20)

static volatile sig_atomic_t sent_count, sent_in_copy, sent_at_abort;

static void on_sent_bus(int sig, siginfo_t *info, void *uctx)
{
	const ucontext_t *uc = uctx;

	(void)info;
	if (sig != SIGBUS)
		return;
	sent_count++;
	if (rip_is(uc->uc_mcontext.gregs[REG_RIP], mr_copy_guarded_insn) ||
	    rip_is(uc->uc_mcontext.gregs[REG_RIP], mr_copy_retry_insn))
		sent_in_copy++;
	if (rip_is(uc->uc_mcontext.gregs[REG_RIP], mr_copy_guarded_abort) ||
	    rip_is(uc->uc_mcontext.gregs[REG_RIP], mr_copy_retry_abort))
		sent_at_abort++;
}

/*
 * mr_copy_guarded() as the hot path calls it (mr_copy_guarded_inline()),
 * which relies on it keeping rdx and r8-r11: those are loaded with
 * patterns before and compared after. 0 on success, -1 if the copy
 * failed, -2 if a register came back changed.
 */
static int copy_keeping_registers(void *dst, const void *src, size_t n)
{
	uint64_t keep[5] = { n, 0x0808080808080808u, 0x0909090909090909u,
			     0x1010101010101010u, 0x1111111111111111u };
	uint64_t back[5];
	int ret;

	__asm__ volatile("mov 0(%[keep]), %%rdx\n\t"
			 "mov 8(%[keep]), %%r8\n\t"
			 "mov 16(%[keep]), %%r9\n\t"
			 "mov 24(%[keep]), %%r10\n\t"
			 "mov 32(%[keep]), %%r11\n\t"
			 "push %[back]\n\t"
			 "lea -128(%%rsp), %%rsp\n\t"
			 "call mr_copy_guarded\n\t"
			 "lea 128(%%rsp), %%rsp\n\t"
			 "pop %%rcx\n\t"
			 "mov %%rdx, 0(%%rcx)\n\t"
			 "mov %%r8, 8(%%rcx)\n\t"
			 "mov %%r9, 16(%%rcx)\n\t"
			 "mov %%r10, 24(%%rcx)\n\t"
			 "mov %%r11, 32(%%rcx)"
			 : "=a"(ret), "+D"(dst), "+S"(src)
			 : [keep] "b"(keep), [back] "r"(back)
			 : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory",
			   "cc");
	if (ret != 0)
		return -1;
	return memcmp(keep, back, sizeof(keep)) == 0 ? 0 : -2;
}

static atomic_bool sender_stop;

static void *sender(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	struct timespec pause = { 0, 200000 };

	while (!atomic_load(&sender_stop)) {
		pthread_kill(target, SIGBUS);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/*
 * A SIGBUS that another thread sends while rep movsb runs interrupts it at
 * the very instruction the guard watches (or at the abort label the kernel
 * moved it to: then the copy goes back a page and goes on, keeping the
 * registers the hot path keeps its values in); only a fault may end the
 * copy. The program's handler must run and the copy must
 * finish intact. With glibc's rseq area registered, every such signal must
 * meet the copy as a restartable sequence: otherwise a copy that stalls
 * could mix a page's bytes from before and after a truncation.
 */
static int sent_during_copy_child(void)
{
	struct sigaction act;
	unsigned char *src = malloc(COPY_LEN), *dst = malloc(COPY_LEN);
	pthread_t self = pthread_self(), thread;
	struct timespec start, now;
	unsigned int copies = 0;

	CHILD_ASSERT(src && dst);
	for (size_t i = 0; i < COPY_LEN; i++)
		src[i] = (unsigned char)(i * 31 + 3);
	arm();
	memset(&act, 0, sizeof(act));
	act.sa_sigaction = on_sent_bus;
	act.sa_flags = SA_SIGINFO;
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);

	atomic_store(&sender_stop, false);
	CHILD_ASSERT(pthread_create(&thread, NULL, sender, &self) == 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		memset(dst, 0, COPY_LEN);
		CHILD_ASSERT(copy_keeping_registers(dst, src, COPY_LEN) == 0);
		CHILD_ASSERT(memcmp(dst, src, COPY_LEN) == 0);
		copies++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (sent_in_copy + sent_at_abort < 5 &&
		 now.tv_sec - start.tv_sec < 5);
	atomic_store(&sender_stop, true);
	CHILD_ASSERT(pthread_join(thread, NULL) == 0);
	dprintf(2, "%u copies, %d signals, %d inside the copy, %d restarted\n",
		copies, (int)sent_count, (int)sent_in_copy,
		(int)sent_at_abort);
	/* Otherwise the test proved nothing. */
	CHILD_ASSERT(sent_in_copy + sent_at_abort > 0);
	if (__rseq_size >= 16)
		CHILD_ASSERT(sent_in_copy == 0 && sent_at_abort > 0);
	else
		CHILD_ASSERT(sent_at_abort == 0);
	free(src);
	free(dst);
	return 0;
}

static void test_signal_sent_during_copy(void **state)
{
	(void)state;
	unit_child_passes(sent_during_copy_child);
}

/* ---- which threads may fault in a copy -------------------------------- */

static sigset_t set_of(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	if (sig)
		sigaddset(&set, sig);
	return set;
}

static bool kernel_blocks(int sig)
{
	sigset_t now;

	pthread_sigmask(SIG_SETMASK, NULL, &now);
	return sigismember(&now, sig) == 1;
}

static void *copy_allowed_thread(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)mr_guard_copy_allowed();
}

static int copy_allowed_child(void)
{
	sigset_t bus = set_of(SIGBUS), segv = set_of(SIGSEGV);
	sigset_t usr1 = set_of(SIGUSR1), none = set_of(0), old;
	pthread_t thread;
	void *allowed;

	CHILD_ASSERT(pthread_sigmask(SIG_SETMASK, &none, NULL) == 0);
	CHILD_ASSERT(mr_guard_copy_allowed());

	/* Blocking either signal through the wrapper is seen at once, and
	 * really reaches the kernel. */
	CHILD_ASSERT(mr_guard_sigmask(SIG_BLOCK, &bus, &old) == 0);
	CHILD_ASSERT(sigismember(&old, SIGBUS) == 0);
	CHILD_ASSERT(kernel_blocks(SIGBUS));
	CHILD_ASSERT(!mr_guard_copy_allowed());
	CHILD_ASSERT(mr_guard_sigmask(SIG_UNBLOCK, &bus, &old) == 0);
	CHILD_ASSERT(sigismember(&old, SIGBUS) == 1);
	CHILD_ASSERT(mr_guard_copy_allowed());

	CHILD_ASSERT(mr_guard_sigmask(SIG_SETMASK, &segv, NULL) == 0);
	CHILD_ASSERT(!mr_guard_copy_allowed());
	/* Unblocking something else leaves SIGSEGV blocked. */
	CHILD_ASSERT(mr_guard_sigmask(SIG_UNBLOCK, &usr1, NULL) == 0);
	CHILD_ASSERT(kernel_blocks(SIGSEGV));
	CHILD_ASSERT(!mr_guard_copy_allowed());
	CHILD_ASSERT(mr_guard_sigmask(SIG_SETMASK, &usr1, NULL) == 0);
	CHILD_ASSERT(mr_guard_copy_allowed());
	/* Only asking changes nothing. */
	CHILD_ASSERT(mr_guard_sigmask(SIG_BLOCK, NULL, &old) == 0);
	CHILD_ASSERT(sigismember(&old, SIGUSR1) == 1);
	CHILD_ASSERT(mr_guard_copy_allowed());
	/* A bad how fails and changes nothing. */
	CHILD_ASSERT(mr_guard_sigmask(12345, &bus, NULL) == -EINVAL);
	CHILD_ASSERT(!kernel_blocks(SIGBUS));
	CHILD_ASSERT(mr_guard_copy_allowed());

	/* A change mmapread did not see: told, it asks the kernel again. */
	CHILD_ASSERT(pthread_sigmask(SIG_BLOCK, &segv, NULL) == 0);
	mr_guard_note_mask(NULL);
	CHILD_ASSERT(!mr_guard_copy_allowed());
	CHILD_ASSERT(pthread_sigmask(SIG_SETMASK, &none, NULL) == 0);
	mr_guard_note_mask(NULL);
	CHILD_ASSERT(mr_guard_copy_allowed());
	/* A mask about to be restored (siglongjmp) is taken as given. */
	mr_guard_note_mask(&bus);
	CHILD_ASSERT(!mr_guard_copy_allowed());
	mr_guard_note_mask(&none);
	CHILD_ASSERT(mr_guard_copy_allowed());

	/* Each thread has its own mask: a worker created with SIGBUS
	 * blocked must learn that, whatever this thread knows. */
	CHILD_ASSERT(pthread_sigmask(SIG_BLOCK, &bus, NULL) == 0);
	CHILD_ASSERT(pthread_create(&thread, NULL, copy_allowed_thread,
				    NULL) == 0);
	CHILD_ASSERT(pthread_sigmask(SIG_SETMASK, &none, NULL) == 0);
	CHILD_ASSERT(pthread_join(thread, &allowed) == 0);
	CHILD_ASSERT(allowed == (void *)0);
	CHILD_ASSERT(pthread_create(&thread, NULL, copy_allowed_thread,
				    NULL) == 0);
	CHILD_ASSERT(pthread_join(thread, &allowed) == 0);
	CHILD_ASSERT(allowed == (void *)1);
	return 0;
}

static void test_copy_allowed_follows_mask(void **state)
{
	(void)state;
	unit_child_passes(copy_allowed_child);
}

static volatile int allowed_in_handler = -1;

static void on_bus_check(int sig)
{
	(void)sig;
	allowed_in_handler = mr_guard_copy_allowed();
}

/*
 * Inside the program's SIGBUS handler SIGBUS is blocked (unless
 * SA_NODEFER): a read there must go to the kernel, not risk a fault.
 */
static int copy_allowed_in_handler_child(void)
{
	struct sigaction act = simple_action(on_bus_check, 0);

	arm();
	CHILD_ASSERT(mr_guard_copy_allowed());
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);
	CHILD_ASSERT(raise(SIGBUS) == 0);
	CHILD_ASSERT(allowed_in_handler == 0);
	/* Back outside, copies are allowed again. */
	CHILD_ASSERT(mr_guard_copy_allowed());

	act.sa_flags = SA_NODEFER;
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);
	allowed_in_handler = -1;
	CHILD_ASSERT(raise(SIGBUS) == 0);
	CHILD_ASSERT(allowed_in_handler == 1);

	/* The program's sa_mask counts too. */
	act.sa_mask = set_of(SIGSEGV);
	CHILD_ASSERT(mr_guard_sigaction(SIGBUS, &act, NULL) == 0);
	allowed_in_handler = -1;
	CHILD_ASSERT(raise(SIGBUS) == 0);
	CHILD_ASSERT(allowed_in_handler == 0);
	return 0;
}

static void test_copy_allowed_in_fault_handler(void **state)
{
	(void)state;
	unit_child_passes(copy_allowed_in_handler_child);
}

/*
 * Programs commonly install handlers for other signals with every signal
 * in sa_mask (sigfillset). While such a handler runs the kernel blocks
 * SIGBUS and SIGSEGV, so a fault in a guarded copy there would kill the
 * process; read() is async-signal-safe and may well be called there.
 */
static void on_usr1_check(int sig)
{
	(void)sig;
	allowed_in_handler = mr_guard_copy_allowed();
}

static void on_usr1_noop(int sig)
{
	(void)sig;
}

static int copy_allowed_in_other_handler_child(void)
{
	struct sigaction act = simple_action(on_usr1_check, SA_RESTART);
	struct sigaction old, plain = simple_action(on_usr1_noop, 0);

	arm();
	/* The thread has learned its (open) mask, as after any read. */
	CHILD_ASSERT(mr_guard_copy_allowed());
	sigfillset(&act.sa_mask);
	CHILD_ASSERT(mr_guard_other_sigaction(SIGUSR1, &act, NULL) == 0);
	allowed_in_handler = -1;
	CHILD_ASSERT(raise(SIGUSR1) == 0);
	CHILD_ASSERT(allowed_in_handler == 0);
	/* Back from the handler, the thread's own mask counts again. */
	CHILD_ASSERT(mr_guard_copy_allowed());
	/* The program is told about its own handler, not the trampoline. */
	CHILD_ASSERT(mr_guard_other_sigaction(SIGUSR1, &plain, &old) == 0);
	CHILD_ASSERT(old.sa_handler == on_usr1_check);
	CHILD_ASSERT(!(old.sa_flags & SA_SIGINFO));
	CHILD_ASSERT(old.sa_flags & SA_RESTART);
	CHILD_ASSERT(sigismember(&old.sa_mask, SIGBUS) == 1);
	/* A handler that leaves SIGBUS open is installed as it is. */
	CHILD_ASSERT(sigaction(SIGUSR1, NULL, &old) == 0);
	CHILD_ASSERT(old.sa_handler == on_usr1_noop);
	allowed_in_handler = -1;
	plain = simple_action(on_usr1_check, 0);
	CHILD_ASSERT(mr_guard_other_sigaction(SIGUSR1, &plain, NULL) == 0);
	CHILD_ASSERT(raise(SIGUSR1) == 0);
	CHILD_ASSERT(allowed_in_handler == 1);
	return 0;
}

static void test_copy_allowed_in_other_handler(void **state)
{
	(void)state;
	unit_child_passes(copy_allowed_in_other_handler_child);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_normal),
		cmocka_unit_test(test_sigbus_truncated_file),
		cmocka_unit_test(test_sigsegv_bad_buffer),
		cmocka_unit_test(test_chain_segv_set_after_arm),
		cmocka_unit_test(test_chain_segv_set_before_arm),
		cmocka_unit_test(test_raise_sigbus_reaches_program),
		cmocka_unit_test(test_sa_resethand),
		cmocka_unit_test(test_raise_sigbus_ignored),
		cmocka_unit_test(test_raise_sigbus_default_kills),
		cmocka_unit_test(test_fault_default_kills),
		cmocka_unit_test(test_fault_ignored_kills),
		cmocka_unit_test(test_signal_sent_during_copy),
		cmocka_unit_test(test_copy_allowed_follows_mask),
		cmocka_unit_test(test_copy_allowed_in_fault_handler),
		cmocka_unit_test(test_copy_allowed_in_other_handler),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
