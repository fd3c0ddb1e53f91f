/*
 * Process boundaries (see mr_process.h).
 */
#include "mr_process.h"

#include "mr_core.h"
#include "mr_stats.h"

void mr_before_child(void)
{
	mr_hand_back_all(MMAPREAD_FB_SHARED);
}

void mr_after_fork_in_child(void)
{
	mr_stats_restart_in_child();
}

void mr_before_exec(void)
{
	mr_hand_back_all(MMAPREAD_FB_SHARED);
	/* The old image never reaches its exit handlers. */
	mr_stats_report_at_exit();
}
