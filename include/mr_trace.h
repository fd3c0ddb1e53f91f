/*
 * Call traces (MMAPREAD_TRACE): which call sites in the program led to
 * mappings, SIGBUS recoveries, served reads or fallbacks.
 *
 * The hot path pays one relaxed load and a test while tracing is off
 * (mr_trace_wants()). When a kind is on, mr_trace_record() captures the
 * return addresses with libunwind and counts them in a fixed table of
 * distinct stacks: no malloc, no lock, callable from any thread and from a
 * signal handler. Names are looked up only when the report is formatted.
 *
 * Two implementations share this header: trace.c (libunwind, loaded with
 * dlopen(RTLD_LOCAL) the first time a mask is set, so that its _Unwind_*
 * never take the place of libgcc_s's in the program) and trace_none.c,
 * which records nothing. Callers need no #ifdef.
 */
#ifndef MR_TRACE_H
#define MR_TRACE_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Event kinds; a fallback event also carries its reason. */
enum mr_trace_kind {
	MR_TRACE_MAP,
	MR_TRACE_SIGBUS,
	MR_TRACE_READ,
	MR_TRACE_FALLBACK,
	MR_TRACE_KINDS
};

#define MR_TRACE_ALL ((1u << MR_TRACE_KINDS) - 1)

/* Frames kept per stack, after mmapread's own frames are dropped. */
#define MR_TRACE_FRAMES 16

/* Distinct stacks kept; events of further stacks count as "other". */
#define MR_TRACE_SLOTS 256

/* Bit k set: record events of kind k. Written by mr_trace_set_mask(). */
extern _Atomic uint32_t mr_trace_mask __attribute__((visibility("hidden")));

/* Whether events of this kind are recorded: the hot path's only cost. */
static inline bool mr_trace_wants(enum mr_trace_kind kind)
{
	return atomic_load_explicit(&mr_trace_mask, memory_order_relaxed) &
	       (1u << kind);
}

/*
 * Parse MMAPREAD_TRACE: a comma-separated list of fallback, map, sigbus,
 * read and all, any case, blanks around each word ignored. 0, or -EINVAL
 * (and *ret_mask untouched). Both implementations accept the same words,
 * so a bad value is reported whether or not tracing was built in.
 */
static inline int mr_parse_trace(const char *text, uint32_t *ret_mask)
{
	static const struct {
		const char *word;
		uint32_t bits;
	} words[] = {
		{ "map", 1u << MR_TRACE_MAP },
		{ "sigbus", 1u << MR_TRACE_SIGBUS },
		{ "read", 1u << MR_TRACE_READ },
		{ "fallback", 1u << MR_TRACE_FALLBACK },
		{ "all", MR_TRACE_ALL },
	};
	uint32_t mask = 0;
	const char *p = text;

	if (!text)
		return -EINVAL;
	for (;;) {
		const char *start, *end;
		size_t len, i;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		end = p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			return -EINVAL;  /* a blank between two words */
		len = (size_t)(end - start);
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			if (strlen(words[i].word) == len &&
			    !strncasecmp(words[i].word, start, len))
				break;
		}
		if (i == sizeof(words) / sizeof(words[0]))
			return -EINVAL;  /* unknown or empty word */
		mask |= words[i].bits;
		if (!*p)
			break;
		p++;  /* the comma */
	}
	*ret_mask = mask;
	return 0;
}

/*
 * Start recording the kinds in mask (0: stop). Call it once, at start-up,
 * outside any signal handler: the first non-zero mask loads libunwind.
 * Returns 0; -EOPNOTSUPP when tracing is not built in or libunwind cannot
 * be loaded (nothing is recorded then); -EINVAL for unknown bits.
 */
int mr_trace_set_mask(uint32_t mask);

/*
 * Count one event of this kind at the current call stack. reason is the
 * enum mmapread_fallback of a MR_TRACE_FALLBACK event, ignored otherwise.
 * The stack starts at the program's frame that called into mmapread.
 * Nested calls (libunwind calling back into mmapread) are dropped.
 */
void mr_trace_record(enum mr_trace_kind kind, int reason);

/*
 * The report, most frequent stacks first, at most max_entries of them (0:
 * all), into buf (always NUL-terminated when cap > 0). Symbol names are
 * looked up here, so call these outside any hook, after the counters
 * were read. Return the length needed, like snprintf; both write nothing
 * while the mask is 0.
 *
 * Text: a heading line and one line per stack, each "mmapread: ".
 * JSON: the "traces" array of the report, brackets included; a frame's
 * "offset" counts from its function's start, or from the object's load
 * address when "function" is null (what addr2line -e object wants).
 */
size_t mr_trace_format_text(char *buf, size_t cap, unsigned int max_entries);
size_t mr_trace_format_json(char *buf, size_t cap, unsigned int max_entries);

/*
 * Whether this thread is inside the tracer (libunwind, or formatting the
 * report). libunwind calls pipe2(), read(), write(), close() and
 * sigprocmask() through the global scope, that is through mmapread's
 * wrappers: those should pass such calls straight through, and pipe2()
 * should move the new fds out of the program's way (see trace.c).
 */
bool mr_trace_busy(void);

/* In a fork child: the counts restart at zero, the stacks stay known. */
void mr_trace_restart_in_child(void);

#endif
