/*
 * The mapping policy (thresholds and their reasons are in mr_policy.h).
 */
#include "mr_policy.h"

#include <sys/stat.h>

bool mr_policy_counts(size_t request)
{
	return request > 0 && request <= MR_POLICY_SMALL_REQUEST;
}

bool mr_policy_should_map(const struct mr_file_facts *facts,
			  enum mmapread_fallback *ret_reason)
{
	uint64_t in_play, requests_left;

	if (!S_ISREG(facts->mode)) {
		*ret_reason = MMAPREAD_FB_NOT_REGULAR;
		return false;
	}
	/* /proc and /sys files say 0 and still have content: never map. */
	if (facts->size <= 0) {
		*ret_reason = MMAPREAD_FB_EMPTY;
		return false;
	}
	if (facts->max_size && (uint64_t)facts->size > facts->max_size) {
		*ret_reason = MMAPREAD_FB_TOO_LARGE;
		return false;
	}
	if ((uint64_t)facts->size < facts->min_size) {
		*ret_reason = MMAPREAD_FB_TOO_SMALL;
		return false;
	}
	if (facts->positional)
		in_play = (uint64_t)facts->size;
	else if (facts->offset < facts->size)
		in_play = (uint64_t)(facts->size - facts->offset);
	else
		in_play = 0;
	requests_left = facts->avg_request ? in_play / facts->avg_request : 0;
	if (requests_left < MR_POLICY_MIN_REQUESTS_LEFT) {
		*ret_reason = MMAPREAD_FB_WONT_PAY;
		return false;
	}
	return true;
}
