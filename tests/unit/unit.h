/*
 * Helpers shared by the unit tests.
 *
 * cmocka must come after the headers it relies on, so every test includes
 * this file instead of <cmocka.h> directly.
 *
 * Some tests change process-wide state that cannot be undone (signal
 * dispositions behind mr_guard_arm(), a pool pushed to its limit) or are
 * expected to die of a signal. They run in a forked child with
 * unit_run_child(): the child reports failures with CHILD_ASSERT() and exits,
 * and never returns into cmocka, whose jump buffers belong to the parent.
 */
#ifndef MR_UNIT_H
#define MR_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds a child may take before SIGALRM kills it (a fault loop, say). */
#define UNIT_CHILD_TIMEOUT 10

/* Failure inside a child: say where on stderr and exit with status 1. */
#define CHILD_ASSERT(cond)                                                  \
	do {                                                                \
		if (!(cond)) {                                              \
			dprintf(2, "%s:%d: child check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                 \
			_exit(1);                                           \
		}                                                           \
	} while (0)

/*
 * Run fn in a child and return its wait status. The child's exit status is
 * fn's return value (0: all checks passed). Core dumps are switched off in
 * the child because some tests expect it to die of SIGSEGV or SIGBUS.
 */
static inline int unit_run_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid;

	/* Anything buffered now would otherwise be printed twice. */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL,
						     SIGFPE };
		struct rlimit no_core = { 0, 0 };

		/* cmocka's crash handler would longjmp into the parent's
		 * copy of the test runner and run the rest of the tests in
		 * the child: a crash here must stay a crash. */
		for (size_t i = 0; i < sizeof(crash_signals) /
					       sizeof(crash_signals[0]);
		     i++)
			signal(crash_signals[i], SIG_DFL);
		setrlimit(RLIMIT_CORE, &no_core);
		alarm(UNIT_CHILD_TIMEOUT);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Run fn in a child and require that it exits with status 0. */
static inline void unit_child_passes(int (*fn)(void))
{
	int status = unit_run_child(fn);

	if (WIFSIGNALED(status))
		fail_msg("child died of signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Run fn in a child and require that it is killed by sig. */
static inline void unit_child_dies_of(int (*fn)(void), int sig)
{
	int status = unit_run_child(fn);

	if (WIFEXITED(status))
		fail_msg("child exited with %d instead of dying of %s",
			 WEXITSTATUS(status), strsignal(sig));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
}

#endif
