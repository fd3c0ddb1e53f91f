/*
 * Text into a fixed buffer, for the report and the call traces: printf-like
 * appends that never overflow and remember the length they would have
 * needed (like snprintf), and JSON strings.
 */
#ifndef MR_OUT_H
#define MR_OUT_H

#include <stddef.h>

struct mr_out {
	char *buf;
	size_t cap;
	size_t len;             /* may exceed cap: what was needed */
};

__attribute__((format(printf, 2, 3)))
void mr_put(struct mr_out *out, const char *fmt, ...);

/*
 * text as a JSON string (null for NULL): valid UTF-8 as it is; quotes and
 * backslashes escaped; control characters and every byte of anything that
 * is not UTF-8 (a file name may be any bytes) as \u00XX.
 */
void mr_put_json_string(struct mr_out *out, const char *text);

#endif
