/*
 * Counting and the report.
 */
#include "mr_stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mr_config.h"
#include "mr_real.h"

_Atomic uint64_t mr_counters[MR_C_COUNT];
_Atomic uint64_t mr_fallback_counters[MMAPREAD_FB_COUNT];

static const char *const fallback_names[MMAPREAD_FB_COUNT] = {
	[MMAPREAD_FB_ACCESS_MODE] = "opened write-only or O_PATH",
	[MMAPREAD_FB_O_DIRECT] = "O_DIRECT",
	[MMAPREAD_FB_NOT_REGULAR] = "not a regular file",
	[MMAPREAD_FB_PSEUDO_FS] = "pseudo filesystem (/proc, /sys...)",
	[MMAPREAD_FB_EMPTY] = "size 0 (empty or pseudo file)",
	[MMAPREAD_FB_WONT_PAY] = "too little left to read",
	[MMAPREAD_FB_READ_AT_ONCE] = "read whole by its first read",
	[MMAPREAD_FB_TOO_LARGE] = "larger than MMAPREAD_MAX_SIZE",
	[MMAPREAD_FB_FSTAT_FAILED] = "fstat failed",
	[MMAPREAD_FB_MMAP_FAILED] = "mmap failed",
	[MMAPREAD_FB_TRUNCATED] = "truncated under the mapping",
	[MMAPREAD_FB_PAST_MAPPING] = "read at or past the mapped end",
	[MMAPREAD_FB_UNUSUAL_CALL] = "unusual call left to the kernel",
	[MMAPREAD_FB_BAD_BUFFER] = "bad buffer (EFAULT from the kernel)",
	[MMAPREAD_FB_SIGNALS_BLOCKED] = "thread blocks SIGBUS or SIGSEGV",
	[MMAPREAD_FB_KERNEL_USE] = "offset handed back to the kernel",
	[MMAPREAD_FB_SHARED] = "shared by fork, spawn or exec",
	[MMAPREAD_FB_STDIN_STDIO] = "fd 0 already read through stdin",
	[MMAPREAD_FB_BUDGET] = "mapping budget spent",
	[MMAPREAD_FB_INTERRUPTED] = "interrupted while deciding",
	[MMAPREAD_FB_TABLE_FULL] = "no memory for the fd table",
};

const char *mr_stats_fallback_name(int reason)
{
	if (reason < 0 || reason >= MMAPREAD_FB_COUNT)
		return NULL;
	return fallback_names[reason];
}

static uint64_t load(enum mr_counter c)
{
	return atomic_load_explicit(&mr_counters[c], memory_order_relaxed);
}

void mr_stats_snapshot(struct mmapread_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->reads_served = load(MR_C_READS_SERVED);
	s->preads_served = load(MR_C_PREADS_SERVED);
	s->readvs_served = load(MR_C_READVS_SERVED);
	s->lseeks_served = load(MR_C_LSEEKS_SERVED);
	s->syscalls_saved = s->reads_served + s->preads_served +
			    s->readvs_served + s->lseeks_served;
	s->syscalls_added = load(MR_C_SYS_MMAP) + load(MR_C_SYS_MUNMAP) +
			    load(MR_C_SYS_FSTAT) + load(MR_C_SYS_LSEEK) +
			    load(MR_C_SYS_SIGACTION);
	s->bytes_served = load(MR_C_BYTES_SERVED);
	s->files_mapped = load(MR_C_FILES_MAPPED);
	s->bytes_mapped = load(MR_C_BYTES_MAPPED);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		s->fallbacks[i] = atomic_load_explicit(&mr_fallback_counters[i],
						       memory_order_relaxed);
}

/* Appends to a fixed buffer and remembers how much it would have needed. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *out, const char *fmt, ...)
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

static const char *human_bytes(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double value = (double)bytes;
	unsigned int unit = 0;

	while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, cap, "%.1f %s", value, units[unit]);
	return buf;
}

#define ROW "mmapread:   %-34s %12llu\n"

size_t mr_stats_format(char *buf, size_t cap, const struct mmapread_stats *s,
		       const char *program, long pid, const char *added_detail)
{
	struct out out = { buf, cap, 0 };
	char h1[32], h2[32];
	uint64_t added = s->syscalls_added;
	uint64_t fallbacks = 0;

	if (cap)
		buf[0] = '\0';
	put(&out, "mmapread: report for %s (pid %ld)\n", program, pid);
	put(&out, ROW, "read() served from mappings",
	    (unsigned long long)s->reads_served);
	put(&out, ROW, "pread() served from mappings",
	    (unsigned long long)s->preads_served);
	put(&out, ROW, "readv()/preadv() served",
	    (unsigned long long)s->readvs_served);
	put(&out, ROW, "lseek() answered in user space",
	    (unsigned long long)s->lseeks_served);
	put(&out, ROW, "syscalls saved", (unsigned long long)s->syscalls_saved);
	put(&out, ROW, "syscalls added (mmap, fstat, ...)",
	    (unsigned long long)added);
	put(&out, "mmapread:     %s\n", added_detail);
	put(&out, "mmapread:   %-34s %12lld\n", "net syscalls saved",
	    (long long)(s->syscalls_saved - added));
	put(&out, "mmapread:   %-34s %12s\n", "bytes served",
	    human_bytes(s->bytes_served, h1, sizeof(h1)));
	put(&out, "mmapread:   %-34s %12llu  (%s)\n", "files mapped",
	    (unsigned long long)s->files_mapped,
	    human_bytes(s->bytes_mapped, h2, sizeof(h2)));
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		fallbacks += s->fallbacks[i];
	put(&out, ROW, "fallbacks to the kernel",
	    (unsigned long long)fallbacks);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		if (s->fallbacks[i])
			put(&out, "mmapread:     %-32s %12llu\n",
			    fallback_names[i],
			    (unsigned long long)s->fallbacks[i]);
	}
	return out.len;
}

/*
 * Where the report goes. Many programs close stderr in an atexit handler
 * (coreutils' close_stdout) before our destructor runs, so a close-on-exec
 * duplicate is kept at a high number, out of the way of the fd numbers a
 * program expects. Its identity is checked before writing: if the program
 * closed it and reused the number, the report goes nowhere rather than
 * into someone's file.
 */
#define REPORT_FD_FLOOR 1000

static int report_fd = -1;
static pid_t report_owner; /* the process these counters belong to */
static dev_t report_dev;
static ino_t report_ino;
static atomic_bool reported;

/* MMAPREAD_STATS_FILE made absolute while the starting directory is known. */
static char file_template[MR_PATH_MAX + 512];

static bool want_report(void)
{
	return mr_config()->stats || mr_config()->stats_file[0];
}

void mr_stats_note_stderr(void)
{
	const char *name = mr_config()->stats_file;
	struct stat st;
	long fd;

	report_owner = getpid();
	if (name[0]) {
		file_template[0] = '\0';
		if (name[0] != '/' &&
		    syscall(SYS_getcwd, file_template,
			    sizeof(file_template) - MR_PATH_MAX - 1) > 0)
			strcat(file_template, "/");
		strcat(file_template, name);
		return;
	}
	if (!mr_config()->stats || mr_sys_fstat(2, &st) != 0)
		return;
	report_dev = st.st_dev;
	report_ino = st.st_ino;
	fd = syscall(SYS_fcntl, 2, F_DUPFD_CLOEXEC, REPORT_FD_FLOOR);
	report_fd = fd >= 0 ? (int)fd : 2;
}

/* The template with %p (pid), %e (program name) and %% expanded. */
static void expand_template(char *out, size_t cap, const char *program,
			    long pid)
{
	struct out o = { out, cap, 0 };

	out[0] = '\0';
	for (const char *p = file_template; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			put(&o, "%ld", pid);
			p++;
		} else if (p[0] == '%' && p[1] == 'e') {
			put(&o, "%s", program);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			put(&o, "%%");
			p++;
		} else {
			put(&o, "%c", *p);
		}
	}
}

/*
 * Create the report file: never through a symlink, never over an existing
 * file (the same pid after an exec, a template without %p in a process
 * tree), so the next free "NAME.1" ... "NAME.99" is taken instead.
 */
static int create_report_file(const char *program, long pid)
{
	char path[sizeof(file_template) + 256], tried[sizeof(path) + 8];
	char line[sizeof(tried) + 128];
	long fd = -1;
	int len;

	expand_template(path, sizeof(path), program, pid);
	for (int n = 0; n < 100; n++) {
		if (n == 0)
			snprintf(tried, sizeof(tried), "%s", path);
		else
			snprintf(tried, sizeof(tried), "%s.%d", path, n);
		fd = syscall(SYS_openat, AT_FDCWD, tried,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC,
			     0644);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd >= 0)
		return (int)fd;
	len = snprintf(line, sizeof(line),
		       "mmapread: MMAPREAD_STATS_FILE: cannot create '%s': "
		       "%s; no report written\n",
		       tried, strerror(errno));
	if (len > 0)
		mr_sys_write(2, line,
			     (size_t)len < sizeof(line) ? (size_t)len
							 : sizeof(line) - 1);
	return -1;
}

static bool report_fd_intact(int fd)
{
	struct stat st;

	return fd >= 0 && mr_sys_fstat(fd, &st) == 0 &&
	       st.st_dev == report_dev && st.st_ino == report_ino;
}

void mr_stats_report_at_exit(void)
{
	struct mmapread_stats s;
	char text[4096], detail[160];
	size_t len;
	int saved_errno = errno;
	int fd = report_fd;

	/* A vfork child shares our memory but is not us: its exec must not
	 * print (or use up) the parent's report. */
	if (!want_report() || getpid() != report_owner ||
	    atomic_exchange(&reported, true))
		goto out;
	if (file_template[0])
		fd = create_report_file(program_invocation_short_name,
					(long)getpid());
	else if (!report_fd_intact(fd))
		fd = report_fd_intact(2) ? 2 : -1;
	if (fd < 0)
		goto out;
	mr_stats_snapshot(&s);
	snprintf(detail, sizeof(detail),
		 "(mmap %llu, munmap %llu, fstat/fstatfs %llu, lseek %llu, "
		 "signals %llu)",
		 (unsigned long long)load(MR_C_SYS_MMAP),
		 (unsigned long long)load(MR_C_SYS_MUNMAP),
		 (unsigned long long)load(MR_C_SYS_FSTAT),
		 (unsigned long long)load(MR_C_SYS_LSEEK),
		 (unsigned long long)load(MR_C_SYS_SIGACTION));
	len = mr_stats_format(text, sizeof(text), &s,
			      program_invocation_short_name, (long)getpid(),
			      detail);
	if (len >= sizeof(text))
		len = sizeof(text) - 1;
	for (size_t done = 0; done < len;) {
		ssize_t n = mr_sys_write(fd, text + done, len - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (file_template[0])
		syscall(SYS_close, fd);
out:
	errno = saved_errno;
}

void mr_stats_restart_in_child(void)
{
	for (int i = 0; i < MR_C_COUNT; i++)
		atomic_store_explicit(&mr_counters[i], 0, memory_order_relaxed);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		atomic_store_explicit(&mr_fallback_counters[i], 0,
				      memory_order_relaxed);
	report_owner = getpid();
	atomic_store(&reported, false);
}
