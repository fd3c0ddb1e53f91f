/*
 * The guarded copy and the SIGBUS/SIGSEGV handlers (see mr_guard.h).
 */
#include "mr_guard.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "mr_real.h"
#include "mr_section.h"
#include "mr_stats.h"

/* The kernel's flag for "sa_restorer is set"; glibc hides it. */
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/*
 * rep movsb: one instruction that can fault, and fast at every size on CPUs
 * with ERMS/FSRM. The handler moves a faulting RIP from the copy to a
 * landing pad, which returns -1. The routine is a leaf that only touches
 * the stack on a restart (below), and its first pass only rax, rcx, rsi
 * and rdi: the hot path calls it from inline assembly that says so
 * (mr_guard.h), and so keeps its own values in the other caller-saved
 * registers instead of saving callee-saved ones around a call.
 *
 * The copy is also a restartable sequence (rseq(2), which glibc registers
 * for every thread). A mapping is not a snapshot: a copy that stalls half
 * way (preempted, or asleep in a page fault) can read the tail of a page
 * just zeroed by a truncation and, when it resumes, the pages the writer
 * has since put back after it, and return zeros the file never held. The
 * kernel's read has the same window, but only for as long as its copy of a
 * page takes (it cannot be preempted there); a restart closes the long
 * windows, those of a stall, and leaves the short one the kernel has too
 * (hardware interrupts and a hypervisor's pauses abort nothing, in the
 * kernel's copy or ours). If the thread is descheduled or
 * gets a signal inside the sequence, the kernel resumes it at the abort
 * label, which goes back to the start of the page before the one it was
 * in (the only page that can hold such zeros) and copies on from there, in
 * a second sequence whose state (where the copy started, the fewest bytes
 * left at an abort, aborts since) lives in r9-r11, the caller's values of
 * those and of r8 saved on the stack. A fault inside a sequence reaches the handler
 * already at its abort label. After 256 interruptions in a row that got no
 * further than the one before (a debugger stepping through it), it gives
 * up: -1, and the kernel reads.
 */
#define MR_STR_(x) #x
#define MR_STR(x) MR_STR_(x)
__asm__(".pushsection .text\n"
	".globl mr_copy_guarded\n"
	".hidden mr_copy_guarded\n"
	".type mr_copy_guarded, @function\n"
	"mr_copy_guarded:\n"
	"	mov mr_rseq_area_offset(%rip), %rax\n"
	"	lea mr_copy_cs(%rip), %rcx\n"
	"	mov %rcx, %fs:8(%rax)\n" /* rseq->rseq_cs */
	"	mov %rdx, %rcx\n"
	".globl mr_copy_guarded_insn\n"
	".hidden mr_copy_guarded_insn\n"
	"mr_copy_guarded_insn:\n"
	"	rep movsb\n"
	"mr_copy_commit:\n"
	"	movq $0, %fs:8(%rax)\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"	.long " MR_STR(RSEQ_SIG) "\n"
	".globl mr_copy_guarded_abort\n"
	".hidden mr_copy_guarded_abort\n"
	"mr_copy_guarded_abort:\n"
	"	push %r8\n"
	"	push %r9\n"
	"	push %r10\n"
	"	push %r11\n"
	"	mov %rsi, %r9\n"	/* where the copy started: rsi less */
	"	sub %rdx, %r9\n"	/* the bytes done, rdx - rcx */
	"	add %rcx, %r9\n"
	"	mov %rcx, %r11\n"	/* fewest bytes left at an abort */
	"	mov $1, %r10d\n"	/* aborts since the copy got further */
	"	jmp 2f\n"
	"1:	lea mr_copy_retry_cs(%rip), %r8\n"
	"	mov %r8, %fs:8(%rax)\n"
	".globl mr_copy_retry_insn\n"
	".hidden mr_copy_retry_insn\n"
	"mr_copy_retry_insn:\n"
	"	rep movsb\n"
	"mr_copy_retry_commit:\n"
	"	movq $0, %fs:8(%rax)\n"
	"	pop %r11\n"
	"	pop %r10\n"
	"	pop %r9\n"
	"	pop %r8\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"	.long " MR_STR(RSEQ_SIG) "\n"
	".globl mr_copy_retry_abort\n"
	".hidden mr_copy_retry_abort\n"
	"mr_copy_retry_abort:\n"
	"	cmp %r11, %rcx\n"
	"	jae 3f\n"
	"	mov %rcx, %r11\n"
	"	xor %r10d, %r10d\n"
	"3:	inc %r10d\n"
	"	cmp $256, %r10d\n"
	"	ja mr_copy_retry_pad\n"
	"2:	mov %rsi, %r8\n"
	"	and $4095, %r8\n"
	"	add $4096, %r8\n"	/* to the previous page's start */
	"	mov %rsi, %rax\n"
	"	sub %r9, %rax\n"	/* but not before the copy's start */
	"	cmp %rax, %r8\n"
	"	cmova %rax, %r8\n"
	"	sub %r8, %rsi\n"
	"	sub %r8, %rdi\n"
	"	add %r8, %rcx\n"
	"	mov mr_rseq_area_offset(%rip), %rax\n"
	"	jmp 1b\n"
	".globl mr_copy_retry_pad\n"
	".hidden mr_copy_retry_pad\n"
	"mr_copy_retry_pad:\n"
	"	movq $0, %fs:8(%rax)\n"
	"	pop %r11\n"
	"	pop %r10\n"
	"	pop %r9\n"
	"	pop %r8\n"
	"	mov $-1, %eax\n"
	"	ret\n"
	".globl mr_copy_guarded_pad\n"
	".hidden mr_copy_guarded_pad\n"
	"mr_copy_guarded_pad:\n"
	"	movq $0, %fs:8(%rax)\n"
	"	mov $-1, %eax\n"
	"	ret\n"
	".size mr_copy_guarded, .-mr_copy_guarded\n"
	".popsection\n"
	/* struct rseq_cs: version, flags, start_ip, post_commit_offset,
	 * abort_ip; the kernel wants it 32-byte aligned. */
	".pushsection .data.rel.ro, \"aw\"\n"
	".balign 32\n"
	"mr_copy_cs:\n"
	"	.long 0, 0\n"
	"	.quad mr_copy_guarded_insn\n"
	"	.quad mr_copy_commit - mr_copy_guarded_insn\n"
	"	.quad mr_copy_guarded_abort\n"
	".balign 32\n"
	"mr_copy_retry_cs:\n"
	"	.long 0, 0\n"
	"	.quad mr_copy_retry_insn\n"
	"	.quad mr_copy_retry_commit - mr_copy_retry_insn\n"
	"	.quad mr_copy_retry_abort\n"
	".popsection\n");

extern const char mr_copy_guarded_insn[];
extern const char mr_copy_guarded_abort[];
extern const char mr_copy_guarded_pad[];
extern const char mr_copy_retry_insn[];
extern const char mr_copy_retry_abort[];
extern const char mr_copy_retry_pad[];

/*
 * Where this thread's struct rseq is, from the thread pointer: glibc's, or
 * a private one that the kernel never looks at when glibc registered none
 * (valgrind, glibc.pthread.rseq=0, old kernels): copies then simply never
 * restart. Set by a constructor and again when arming, which precedes any
 * mapping: %fs:8 from offset 0 would be the thread control block.
 */
static __thread struct rseq unregistered_rseq
	__attribute__((tls_model("initial-exec")));
ptrdiff_t mr_rseq_area_offset __attribute__((visibility("hidden")));

__attribute__((constructor)) static void locate_rseq_area(void)
{
	if (__rseq_size >= 16) /* up to and including rseq_cs */
		mr_rseq_area_offset = __rseq_offset;
	else
		mr_rseq_area_offset = (char *)&unregistered_rseq -
				      (char *)__builtin_thread_pointer();
}

enum { GUARD_BUS, GUARD_SEGV, GUARD_SIGNALS };
static const int guard_signo[GUARD_SIGNALS] = { SIGBUS, SIGSEGV };

/*
 * A disposition recorded for a signal handler to read: double-buffered, so
 * that a handler never reads a half-written one; writers fill the idle copy
 * and flip the index.
 */
struct recorded_action {
	struct sigaction copy[2];
	atomic_int current;
	atomic_flag writing;
};

/* The program's SIGBUS and SIGSEGV dispositions. */
static struct recorded_action program_act[GUARD_SIGNALS];
static atomic_int armed; /* 0 no, 1 arming, 2 armed */

/* Other signals' handlers behind the trampoline (mr_guard_other_sigaction). */
static struct recorded_action trampolined[NSIG] MR_LARGE_TABLE;

static int guard_slot(int sig)
{
	return sig == SIGBUS ? GUARD_BUS : sig == SIGSEGV ? GUARD_SEGV : -1;
}

static struct sigaction recorded_get(struct recorded_action *r)
{
	return r->copy[atomic_load_explicit(&r->current,
					    memory_order_acquire)];
}

static void recorded_set(struct recorded_action *r,
			 const struct sigaction *act)
{
	int idle;

	/* Bounded: the writer we wait for may be the code this signal
	 * handler interrupted; after that, write anyway (a reader may then
	 * see a torn copy, which beats a deadlock). */
	for (int spin = 0; spin < 100000; spin++) {
		if (!atomic_flag_test_and_set_explicit(&r->writing,
						       memory_order_acquire))
			break;
		__builtin_ia32_pause();
	}
	idle = !atomic_load_explicit(&r->current, memory_order_relaxed);
	r->copy[idle] = *act;
	atomic_store_explicit(&r->current, idle, memory_order_release);
	atomic_flag_clear_explicit(&r->writing, memory_order_release);
}

static struct sigaction program_get(int slot)
{
	return recorded_get(&program_act[slot]);
}

static void program_set(int slot, const struct sigaction *act)
{
	recorded_set(&program_act[slot], act);
}

/*
 * Whether this thread may fault in a guarded copy. A fault on a blocked
 * SIGBUS or SIGSEGV is not delivered: the kernel resets the action and
 * kills the process. Worker threads often block every signal, so each
 * thread learns its mask once (one system call) and the mask functions
 * below keep it up to date; a thread with either signal blocked has its
 * reads answered by the kernel.
 */
enum { MASK_UNKNOWN, MASK_OPEN = MR_GUARD_MASK_OPEN, MASK_BLOCKED };
__thread unsigned char mr_guard_fault_mask
	__attribute__((tls_model("initial-exec")));
#define fault_mask mr_guard_fault_mask

static void note_mask(const sigset_t *mask)
{
	fault_mask = sigismember(mask, SIGBUS) == 1 ||
				     sigismember(mask, SIGSEGV) == 1
			     ? MASK_BLOCKED
			     : MASK_OPEN;
}

/*
 * Inside the program's handler the kernel's mask (saved plus sa_mask plus
 * the signal itself) is in force; record what it means for us.
 */
static void mark_mask_unknown_for_handler(int sig, const struct sigaction *act,
					  const sigset_t *saved)
{
	sigset_t during = *saved;

	sigorset(&during, &during, &act->sa_mask);
	if (!(act->sa_flags & SA_NODEFER))
		sigaddset(&during, sig);
	note_mask(&during);
}

static void reset_to_default(int sig)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	mr_real_sigaction(sig, &dfl, NULL);
}

/* Deliver a fault or signal that is not ours as the program asked. */
static void chain(int sig, siginfo_t *info, void *uctx)
{
	struct sigaction act = program_get(guard_slot(sig));
	bool fault = info->si_code > 0; /* raised by the CPU, not sent */
	sigset_t saved;

	/* sa_handler and sa_sigaction share storage: SIG_DFL and SIG_IGN
	 * read the same through either. */
	if (act.sa_handler == SIG_DFL) {
		/* A fault re-executes and now meets the default action; a
		 * sent signal is raised again, pending until we return. */
		reset_to_default(sig);
		if (!fault)
			syscall(SYS_tgkill, getpid(), gettid(), sig);
		return;
	}
	if (act.sa_handler == SIG_IGN) {
		/* The kernel never lets a fault be ignored. */
		if (fault)
			reset_to_default(sig);
		return;
	}
	if (act.sa_flags & SA_RESETHAND) {
		/* As the kernel does: only the handler goes back to default. */
		struct sigaction reset = act;

		reset.sa_handler = SIG_DFL;
		program_set(guard_slot(sig), &reset);
	}
	mr_real_sigmask(SIG_BLOCK, &act.sa_mask, &saved);
	/* The handler runs with this signal blocked (unless SA_NODEFER):
	 * reads it makes must not fault in a guarded copy. */
	mark_mask_unknown_for_handler(sig, &act, &saved);
	if (act.sa_flags & SA_SIGINFO)
		act.sa_sigaction(sig, info, uctx);
	else
		act.sa_handler(sig);
	mr_real_sigmask(SIG_SETMASK, &saved, NULL);
	fault_mask = MASK_UNKNOWN;
}

static void fault_handler(int sig, siginfo_t *info, void *uctx)
{
	ucontext_t *uc = uctx;
	int saved_errno = errno;

	greg_t rip = uc->uc_mcontext.gregs[REG_RIP];

	/* A fault in the copy: at the instruction, or already at the abort
	 * label when the copy ran as a restartable sequence. */
	if (info->si_code > 0 &&
	    (rip == (greg_t)(uintptr_t)mr_copy_guarded_insn ||
	     rip == (greg_t)(uintptr_t)mr_copy_guarded_abort)) {
		uc->uc_mcontext.gregs[REG_RIP] =
			(greg_t)(uintptr_t)mr_copy_guarded_pad;
		goto out;
	}
	if (info->si_code > 0 &&
	    (rip == (greg_t)(uintptr_t)mr_copy_retry_insn ||
	     rip == (greg_t)(uintptr_t)mr_copy_retry_abort)) {
		uc->uc_mcontext.gregs[REG_RIP] =
			(greg_t)(uintptr_t)mr_copy_retry_pad;
		goto out;
	}
	chain(sig, info, uctx);
out:
	errno = saved_errno;
}

/* Our handler, with the program's flags where they change behaviour. */
static struct sigaction our_action(const struct sigaction *program)
{
	struct sigaction act;

	memset(&act, 0, sizeof(act));
	act.sa_sigaction = fault_handler;
	act.sa_flags = SA_SIGINFO |
		       (program->sa_flags & (SA_ONSTACK | SA_RESTART | SA_NODEFER));
	act.sa_mask = program->sa_mask;
	return act;
}

int mr_guard_arm(void)
{
	int expected = 0;

	if (atomic_load_explicit(&armed, memory_order_acquire) == 2)
		return 0;
	if (!atomic_compare_exchange_strong(&armed, &expected, 1)) {
		/* Another thread is arming: a few system calls away from
		 * done. Bounded, because that thread may be the one this
		 * signal handler interrupted. */
		for (int spin = 0; spin < 100000; spin++) {
			if (atomic_load_explicit(&armed, memory_order_acquire) ==
			    2)
				return 0;
		}
		return -EAGAIN;
	}
	locate_rseq_area();
	for (int slot = 0; slot < GUARD_SIGNALS; slot++) {
		struct sigaction old, ours;

		if (mr_real_sigaction(guard_signo[slot], NULL, &old) != 0) {
			atomic_store(&armed, 0);
			return -errno;
		}
		program_set(slot, &old);
		ours = our_action(&old);
		mr_real_sigaction(guard_signo[slot], &ours, NULL);
		mr_count(MR_C_SYS_SIGACTION, 2);
	}
	atomic_store_explicit(&armed, 2, memory_order_release);
	return 0;
}

bool mr_guard_intercepts(int sig)
{
	if (guard_slot(sig) < 0 ||
	    atomic_load_explicit(&armed, memory_order_acquire) == 0)
		return false;
	/* While another thread arms, wait for its record to be complete,
	 * so that a handler set now is neither lost nor overwritten. */
	for (int spin = 0; spin < 100000; spin++) {
		if (atomic_load_explicit(&armed, memory_order_acquire) == 2)
			break;
		__builtin_ia32_pause();
	}
	return true;
}

void mr_guard_after_fork_in_child(void)
{
	for (int slot = 0; slot < GUARD_SIGNALS; slot++)
		atomic_flag_clear(&program_act[slot].writing);
	for (int sig = 0; sig < NSIG; sig++)
		atomic_flag_clear(&trampolined[sig].writing);
}

/*
 * exec keeps an ignored signal ignored; our handler would become SIG_DFL
 * instead. Put the program's SIG_IGN back first (and our handler again if
 * the exec fails).
 */
void mr_guard_before_exec(void)
{
	if (atomic_load(&armed) != 2)
		return;
	for (int slot = 0; slot < GUARD_SIGNALS; slot++) {
		struct sigaction act = program_get(slot);

		if (act.sa_handler == SIG_IGN)
			mr_real_sigaction(guard_signo[slot], &act, NULL);
	}
}

void mr_guard_after_failed_exec(void)
{
	if (atomic_load(&armed) != 2)
		return;
	for (int slot = 0; slot < GUARD_SIGNALS; slot++) {
		struct sigaction act = program_get(slot);
		struct sigaction ours = our_action(&act);

		if (act.sa_handler == SIG_IGN)
			mr_real_sigaction(guard_signo[slot], &ours, NULL);
	}
}

int mr_guard_sigaction(int sig, const struct sigaction *act,
		       struct sigaction *ret_oldact)
{
	int slot = guard_slot(sig);
	struct sigaction old = program_get(slot);

	if (act) {
		struct sigaction ours = our_action(act), kernel_old, recorded;

		if (mr_real_sigaction(sig, &ours, &kernel_old) != 0)
			return -errno;
		/* Keep it as the kernel would report it back: libc adds its
		 * restorer to every action it installs. */
		recorded = *act;
		recorded.sa_flags |= kernel_old.sa_flags & SA_RESTORER;
		recorded.sa_restorer = kernel_old.sa_restorer;
		program_set(slot, &recorded);
	}
	if (ret_oldact)
		*ret_oldact = old;
	return 0;
}

bool mr_guard_copy_allowed(void)
{
	sigset_t current;

	if (__builtin_expect(fault_mask == MASK_OPEN, 1))
		return true;
	if (fault_mask == MASK_BLOCKED)
		return false;
	mr_count(MR_C_SYS_SIGACTION, 1);
	if (mr_real_sigmask(SIG_BLOCK, NULL, &current) != 0)
		return false;
	note_mask(&current);
	return fault_mask == MASK_OPEN;
}

int mr_guard_sigmask(int how, const sigset_t *set, sigset_t *ret_old)
{
	sigset_t old, now;
	int err = mr_real_sigmask(how, set, &old);

	if (err)
		return -err;
	if (!set) {
		now = old;
	} else if (how == SIG_SETMASK) {
		now = *set;
	} else if (how == SIG_BLOCK) {
		sigorset(&now, &old, set);
	} else {
		sigset_t keep;

		sigfillset(&keep);
		for (int sig = 1; sig < NSIG; sig++) {
			if (sigismember(set, sig) == 1)
				sigdelset(&keep, sig);
		}
		sigandset(&now, &old, &keep);
	}
	note_mask(&now);
	if (ret_old)
		*ret_old = old;
	return 0;
}

/*
 * Handlers of other signals whose sa_mask blocks SIGBUS or SIGSEGV: while
 * one runs, the kernel blocks those too, so a fault in a guarded copy would
 * kill the process. Such a handler is installed behind a trampoline that
 * marks the thread as blocking them for as long as the handler runs (the
 * kernel restores the mask, and so the mark, when it returns; a siglongjmp
 * out of it tells mr_guard_note_mask() the mask it restores). The program's
 * action is recorded, double-buffered as above, and reported back by
 * sigaction() while the trampoline is installed.
 */

static bool blocks_fault_signals(const struct sigaction *act)
{
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN &&
	       (sigismember(&act->sa_mask, SIGBUS) == 1 ||
		sigismember(&act->sa_mask, SIGSEGV) == 1);
}

/*
 * Not instrumented by TSan: its instrumentation of the loads below may run
 * pending signal handlers (and its own mask changes) before the mark is
 * in place.
 */
__attribute__((no_sanitize("thread")))
static void trampoline(int sig, siginfo_t *info, void *uctx)
{
	unsigned char before = fault_mask;
	struct sigaction act;

	fault_mask = MASK_BLOCKED;
	act = recorded_get(&trampolined[sig]);
	if (act.sa_flags & SA_SIGINFO)
		act.sa_sigaction(sig, info, uctx);
	else if (act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN)
		act.sa_handler(sig);
	fault_mask = before;
}

int mr_guard_other_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *ret_oldact)
{
	struct sigaction kernel_old, installed, recorded;
	bool known = sig > 0 && sig < NSIG;

	if (known)
		recorded = recorded_get(&trampolined[sig]);
	/* SIGBUS and SIGSEGV handlers are the guard's to follow (chain()),
	 * also before it is armed: it records what the kernel has then. */
	if (act && known && sig != SIGBUS && sig != SIGSEGV &&
	    blocks_fault_signals(act)) {
		installed = *act;
		installed.sa_sigaction = trampoline;
		installed.sa_flags |= SA_SIGINFO;
		/* Recorded before the kernel can deliver through it. */
		recorded_set(&trampolined[sig], act);
		act = &installed;
	}
	if (mr_real_sigaction(sig, act, &kernel_old) != 0)
		return -errno;
	if (!ret_oldact)
		return 0;
	*ret_oldact = kernel_old;
	if ((kernel_old.sa_flags & SA_SIGINFO) &&
	    kernel_old.sa_sigaction == trampoline) {
		/* What the program installed, as the kernel reports an
		 * action back: with libc's restorer. */
		*ret_oldact = recorded;
		ret_oldact->sa_flags |= kernel_old.sa_flags & SA_RESTORER;
		ret_oldact->sa_restorer = kernel_old.sa_restorer;
	}
	return 0;
}

void mr_guard_note_mask(const sigset_t *mask)
{
	if (mask)
		note_mask(mask);
	else
		fault_mask = MASK_UNKNOWN;
}
