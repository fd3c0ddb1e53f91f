/*
 * The guarded copy and the fault handlers behind it.
 *
 * A mapping is not a snapshot: a file truncated under it raises SIGBUS on
 * the pages past the new end, and a program's bad buffer raises SIGSEGV
 * where the kernel would have returned EFAULT. mr_copy_guarded() is a
 * `rep movsb` whose faults the handlers recognise by the instruction
 * pointer and turn into a return value, as the kernel's copy_from_user does,
 * so the hot path needs no setjmp and no thread-local state.
 *
 * Faults that are not ours go to the program's handler or default action:
 * while mmapread's handlers are installed, sigaction()/signal() on SIGBUS
 * and SIGSEGV are answered from a recorded copy of the program's wishes.
 */
#ifndef MR_GUARD_H
#define MR_GUARD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Copy n bytes as the kernel's read would, each page in one go (see
 * guard.c); 0 on success, -1 if a fault on either side stopped it.
 */
int mr_copy_guarded(void *dst, const void *src, size_t n);

/*
 * mr_copy_guarded() for the hot path, called from inline assembly that
 * tells the compiler what its first pass changes (rax, rcx, rsi, rdi and
 * memory; a restart saves what more it needs): the caller keeps its
 * values in the other caller-saved registers across the copy instead of
 * saving callee-saved ones. The stack pointer steps over the red zone, which
 * a leaf caller may be using. *dst moves to the end of the copy.
 */
static inline bool mr_copy_guarded_inline(unsigned char **dst,
					  const void *src, size_t n)
{
	unsigned char *to = *dst;
	int ret;

	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
			 "call mr_copy_guarded\n\t"
			 "lea 128(%%rsp), %%rsp"
			 : "=a"(ret), "+D"(to), "+S"(src)
			 : "d"(n)
			 : "rcx", "memory", "cc");
	*dst = to;
	return ret == 0;
}

/* Install the handlers, once per process; 0 or -errno. */
int mr_guard_arm(void);

/* Whether sigaction() on sig is being answered by mr_guard_sigaction(). */
bool mr_guard_intercepts(int sig);

/* In a fork child: no writer of the recorded actions exists any more. */
void mr_guard_after_fork_in_child(void);

/*
 * Around exec (and spawns, whose child execs): an ignored SIGBUS/SIGSEGV
 * must stay ignored in the new image; the second puts our handler back in
 * this process.
 */
void mr_guard_before_exec(void);
void mr_guard_after_failed_exec(void);

/* sigaction() for a signal the guard intercepts: 0 or -errno. */
int mr_guard_sigaction(int sig, const struct sigaction *act,
		       struct sigaction *ret_oldact);

/*
 * sigaction() for any other signal: 0 or -errno. A handler whose sa_mask
 * blocks SIGBUS or SIGSEGV runs behind a trampoline that keeps this
 * thread's reads away from guarded copies while it runs.
 */
int mr_guard_other_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *ret_oldact);

/*
 * Whether this thread can take a fault in mr_copy_guarded(): false when it
 * blocks SIGBUS or SIGSEGV (the kernel would kill the process instead of
 * delivering the fault). Costs one system call per thread, the first time.
 */
bool mr_guard_copy_allowed(void);

/* The hot path's check: true only when this thread is known to be able to
 * take the fault (false may just mean "ask mr_guard_copy_allowed()"). */
#define MR_GUARD_MASK_OPEN 1
extern __thread unsigned char mr_guard_fault_mask;
static inline bool mr_guard_copy_known_allowed(void)
{
	return mr_guard_fault_mask == MR_GUARD_MASK_OPEN;
}

/*
 * pthread_sigmask()/sigprocmask() for the program, keeping this thread's
 * knowledge of its mask current: 0 or -errno.
 */
int mr_guard_sigmask(int how, const sigset_t *set, sigset_t *ret_old);

/*
 * The mask is about to become *mask (a longjmp restoring a saved mask), or
 * something mmapread cannot see changed it (NULL): ask again next time.
 */
void mr_guard_note_mask(const sigset_t *mask);

#endif
