/*
 * Process boundaries (see mr_process.h).
 */
#include "mr_process.h"

#include <errno.h>

#include "mr_core.h"
#include "mr_fdtable.h"
#include "mr_guard.h"
#include "mr_stats.h"
#include "mr_trace.h"

void mr_before_child(void)
{
	mr_fork_gate_enter();
	mr_hand_back_all(MMAPREAD_FB_SHARED);
}

void mr_after_child_in_parent(void)
{
	mr_fork_gate_leave();
}

/* The vfork child sees no table at all, so no gate is needed (and its
 * end could not be seen: the parent resumes in our caller). */
void mr_before_vfork(void)
{
	mr_hand_back_all(MMAPREAD_FB_SHARED);
	mr_fdtable_before_vfork();
}

void mr_before_spawn(void)
{
	mr_before_child();
	mr_guard_before_exec();
}

void mr_after_spawn(void)
{
	int saved_errno = errno; /* system() and popen() report through it */

	mr_guard_after_failed_exec();
	mr_fork_gate_leave();
	errno = saved_errno;
}

void mr_after_fork_in_child(void)
{
	mr_fork_gate_reset_in_child();
	mr_guard_after_fork_in_child();
	mr_trace_restart_in_child();
	mr_stats_restart_in_child();
}

void mr_before_exec(void)
{
	mr_hand_back_all(MMAPREAD_FB_SHARED);
	mr_guard_before_exec();
	/* The old image never reaches its exit handlers. */
	mr_stats_report(MR_ENDED_EXEC);
}

void mr_before__exit(void)
{
	mr_stats_report(MR_ENDED__EXIT);
}

void mr_after_failed_exec(void)
{
	int saved_errno = errno; /* the exec's error */

	mr_guard_after_failed_exec();
	mr_stats_restart_after_failed_exec();
	errno = saved_errno;
}
