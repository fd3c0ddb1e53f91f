/*
 * Text into a fixed buffer (see mr_out.h).
 */
#include "mr_out.h"

#include <stdarg.h>
#include <stdio.h>

void mr_put(struct mr_out *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out->len < out->cap ? out->buf + out->len : NULL,
		      out->len < out->cap ? out->cap - out->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		out->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p, or 0 (NUL is never valid). */
static size_t utf8_length(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] && p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (p[0] == 0xe0)
			lo = 0xa0;  /* overlong */
		if (p[0] == 0xed)
			hi = 0x9f;  /* surrogates */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3
									  : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (p[0] == 0xf0)
			lo = 0x90;  /* overlong */
		if (p[0] == 0xf4)
			hi = 0x8f;  /* above U+10FFFF */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
				       (p[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

void mr_put_json_string(struct mr_out *out, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	if (!text) {
		mr_put(out, "null");
		return;
	}
	mr_put(out, "\"");
	while (*p) {
		size_t len = utf8_length(p);

		if (*p == '"' || *p == '\\')
			mr_put(out, "\\%c", *p);
		else if (len == 0 || *p < 0x20 || *p == 0x7f)
			mr_put(out, "\\u%04x", *p);
		else
			mr_put(out, "%.*s", (int)len, (const char *)p);
		p += len ? len : 1;
	}
	mr_put(out, "\"");
}

