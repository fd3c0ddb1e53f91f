/*
 * Call traces without libunwind (see mr_trace.h): nothing is recorded,
 * mr_trace_wants() stays false, and asking for traces says so.
 */
#include "mr_trace.h"

_Atomic uint32_t mr_trace_mask;

int mr_trace_set_mask(uint32_t mask)
{
	if (mask & ~MR_TRACE_ALL)
		return -EINVAL;
	return mask ? -EOPNOTSUPP : 0;
}

void mr_trace_record(enum mr_trace_kind kind, int reason)
{
	(void)kind;
	(void)reason;
}

size_t mr_trace_format_text(char *buf, size_t cap, unsigned int max_entries)
{
	(void)max_entries;
	if (cap)
		buf[0] = '\0';
	return 0;
}

size_t mr_trace_format_json(char *buf, size_t cap, unsigned int max_entries)
{
	(void)max_entries;
	if (cap)
		buf[0] = '\0';
	return 0;
}

bool mr_trace_busy(void)
{
	return false;
}

void mr_trace_restart_in_child(void)
{
}
