/*
 * Counting and the report.
 */
#include "mr_stats.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mr_config.h"
#include "mr_desc.h"
#include "mr_out.h"
#include "mr_real.h"
#include "mr_section.h"

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
	[MMAPREAD_FB_EXCLUDED] = "excluded by MMAPREAD_INCLUDE/EXCLUDE",
	[MMAPREAD_FB_TOO_SMALL] = "smaller than MMAPREAD_MIN_SIZE",
	[MMAPREAD_FB_STDIO_CALL] = "stdio call left to libc",
};

static const char *const fallback_keys[MMAPREAD_FB_COUNT] = {
	[MMAPREAD_FB_ACCESS_MODE] = "access_mode",
	[MMAPREAD_FB_O_DIRECT] = "o_direct",
	[MMAPREAD_FB_NOT_REGULAR] = "not_regular",
	[MMAPREAD_FB_PSEUDO_FS] = "pseudo_fs",
	[MMAPREAD_FB_EMPTY] = "empty",
	[MMAPREAD_FB_WONT_PAY] = "wont_pay",
	[MMAPREAD_FB_READ_AT_ONCE] = "read_at_once",
	[MMAPREAD_FB_TOO_LARGE] = "too_large",
	[MMAPREAD_FB_FSTAT_FAILED] = "fstat_failed",
	[MMAPREAD_FB_MMAP_FAILED] = "mmap_failed",
	[MMAPREAD_FB_TRUNCATED] = "truncated",
	[MMAPREAD_FB_PAST_MAPPING] = "past_mapping",
	[MMAPREAD_FB_UNUSUAL_CALL] = "unusual_call",
	[MMAPREAD_FB_BAD_BUFFER] = "bad_buffer",
	[MMAPREAD_FB_SIGNALS_BLOCKED] = "signals_blocked",
	[MMAPREAD_FB_KERNEL_USE] = "kernel_use",
	[MMAPREAD_FB_SHARED] = "shared",
	[MMAPREAD_FB_STDIN_STDIO] = "stdin_stdio",
	[MMAPREAD_FB_BUDGET] = "budget",
	[MMAPREAD_FB_INTERRUPTED] = "interrupted",
	[MMAPREAD_FB_TABLE_FULL] = "table_full",
	[MMAPREAD_FB_EXCLUDED] = "excluded",
	[MMAPREAD_FB_TOO_SMALL] = "too_small",
	[MMAPREAD_FB_STDIO_CALL] = "stdio_call",
};

const char *mr_stats_fallback_name(int reason)
{
	if (reason < 0 || reason >= MMAPREAD_FB_COUNT)
		return NULL;
	return fallback_keys[reason];
}

const char *mr_stats_fallback_text(int reason)
{
	if (reason < 0 || reason >= MMAPREAD_FB_COUNT)
		return NULL;
	return fallback_names[reason];
}

static uint64_t load(enum mr_counter c)
{
	return atomic_load_explicit(&mr_counters[c], memory_order_relaxed);
}

/* ---- the per-file table ----------------------------------------------- */

/*
 * Files whose descriptions were folded, keyed by device and inode: slots
 * are claimed with a compare-and-swap (free, being filled, ready), never
 * freed, so a fold from any thread or signal handler needs no lock. When
 * the table is full, counts go to "other files".
 */
#define FILES_MAX 1024
enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };

struct file_entry {
	_Atomic int state;
	struct mr_file_id id;
	_Atomic uint64_t opens;
	struct mr_file_counters c;
};

static struct file_entry files[FILES_MAX] MR_LARGE_TABLE;
static struct file_entry other_files MR_LARGE_TABLE;
/*
 * The slots claimed so far, in claim order: the table is 4 MiB of BSS, and
 * a walk over all of it (a forked child's restart, the report) would fault
 * in every page of it - a thousand faults a fork. Entries are the slot's
 * index + 1: 0 is a claim whose index is not written yet (its claimer was
 * interrupted), skipped.
 */
static uint16_t claimed[FILES_MAX] MR_LARGE_TABLE;
static _Atomic unsigned int nclaimed;

static struct file_entry *file_entry_for(const struct mr_file_id *id)
{
	uint64_t hash = ((uint64_t)id->dev * 0x9e3779b97f4a7c15ull) ^
			((uint64_t)id->ino * 0xc2b2ae3d27d4eb4full);

	for (unsigned int probe = 0; probe < FILES_MAX; probe++) {
		struct file_entry *e = &files[(hash + probe) % FILES_MAX];
		int state = atomic_load_explicit(&e->state,
						 memory_order_acquire);

		if (state == SLOT_FREE &&
		    atomic_compare_exchange_strong(&e->state, &state,
						   SLOT_FILLING)) {
			e->id = *id;
			claimed[atomic_fetch_add(&nclaimed, 1)] =
				(uint16_t)(e - files + 1);
			atomic_store_explicit(&e->state, SLOT_READY,
					      memory_order_release);
			return e;
		}
		/* Bounded: the filler may be what this handler interrupted. */
		for (int spin = 0; state == SLOT_FILLING && spin < 100000;
		     spin++) {
			__builtin_ia32_pause();
			state = atomic_load_explicit(&e->state,
						     memory_order_acquire);
		}
		if (state == SLOT_READY && e->id.dev == id->dev &&
		    e->id.ino == id->ino)
			return e;
	}
	return &other_files;
}

static unsigned int claimed_count(void)
{
	unsigned int n = atomic_load(&nclaimed);

	return n < FILES_MAX ? n : FILES_MAX;
}

/* The i-th claimed slot, or NULL while its claim is being listed. */
static struct file_entry *claimed_slot(unsigned int i)
{
	uint16_t listed = __atomic_load_n(&claimed[i], __ATOMIC_RELAXED);

	return listed ? &files[listed - 1] : NULL;
}

static uint64_t take(_Atomic uint64_t *counter)
{
	return atomic_exchange_explicit(counter, 0, memory_order_relaxed);
}

static const enum mr_counter served_total[MR_SERVED_KINDS] = {
	[MR_SERVED_READ] = MR_C_READS_SERVED,
	[MR_SERVED_PREAD] = MR_C_PREADS_SERVED,
	[MR_SERVED_READV] = MR_C_READVS_SERVED,
	[MR_SERVED_LSEEK] = MR_C_LSEEKS_SERVED,
};

void mr_stats_fold(const struct mr_file_id *id, struct mr_file_counters *c,
		   bool opened)
{
	struct file_entry *e = file_entry_for(id);
	uint64_t n;

	if (opened)
		atomic_fetch_add_explicit(&e->opens, 1, memory_order_relaxed);
	for (int k = 0; k < MR_SERVED_KINDS; k++) {
		n = take(&c->served[k]);
		atomic_fetch_add_explicit(&e->c.served[k], n,
					  memory_order_relaxed);
		mr_count(served_total[k], n);
	}
	n = take(&c->bytes);
	atomic_fetch_add_explicit(&e->c.bytes, n, memory_order_relaxed);
	mr_count(MR_C_BYTES_SERVED, n);
	for (int b = 0; b < MR_SIZE_BUCKETS; b++)
		atomic_fetch_add_explicit(&e->c.sizes[b], take(&c->sizes[b]),
					  memory_order_relaxed);
}

/* Add what live descriptions served so far (not folded yet). */
static void add_live(struct mr_desc *desc, void *arg)
{
	struct mmapread_stats *s = arg;
	struct mr_file_counters *c = &desc->counters;
	uint64_t bytes = atomic_load_explicit(&c->bytes, memory_order_relaxed);

	s->reads_served += atomic_load_explicit(&c->served[MR_SERVED_READ],
						memory_order_relaxed);
	s->preads_served += atomic_load_explicit(&c->served[MR_SERVED_PREAD],
						 memory_order_relaxed);
	s->readvs_served += atomic_load_explicit(&c->served[MR_SERVED_READV],
						 memory_order_relaxed);
	s->lseeks_served += atomic_load_explicit(&c->served[MR_SERVED_LSEEK],
						 memory_order_relaxed);
	s->bytes_served += bytes;
}

static uint64_t syscalls_added(void)
{
	return load(MR_C_SYS_MMAP) + load(MR_C_SYS_MUNMAP) +
	       load(MR_C_SYS_FSTAT) + load(MR_C_SYS_LSEEK) +
	       load(MR_C_SYS_SIGACTION) + load(MR_C_SYS_READLINK) +
	       load(MR_C_SYS_OTHER);
}

void mr_stats_snapshot(struct mmapread_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->reads_served = load(MR_C_READS_SERVED);
	s->preads_served = load(MR_C_PREADS_SERVED);
	s->readvs_served = load(MR_C_READVS_SERVED);
	s->lseeks_served = load(MR_C_LSEEKS_SERVED);
	s->bytes_served = load(MR_C_BYTES_SERVED);
	mr_desc_for_each_live(add_live, s);
	s->syscalls_saved = s->reads_served + s->preads_served +
			    s->readvs_served + s->lseeks_served;
	s->syscalls_added = syscalls_added();
	s->files_mapped = load(MR_C_FILES_MAPPED);
	s->bytes_mapped = load(MR_C_BYTES_MAPPED);
	s->stdio_reads = load(MR_C_STDIO_READS);
	s->stdio_refills = load(MR_C_STDIO_REFILLS);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		s->fallbacks[i] = atomic_load_explicit(&mr_fallback_counters[i],
						       memory_order_relaxed);
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
	struct mr_out out = { buf, cap, 0 };
	char h1[32], h2[32];
	uint64_t added = s->syscalls_added;
	uint64_t fallbacks = 0;

	if (cap)
		buf[0] = '\0';
	mr_put(&out, "mmapread: report for %s (pid %ld)\n", program, pid);
	mr_put(&out, ROW, "read() served from mappings",
	    (unsigned long long)s->reads_served);
	mr_put(&out, ROW, "pread() served from mappings",
	    (unsigned long long)s->preads_served);
	mr_put(&out, ROW, "readv()/preadv() served",
	    (unsigned long long)s->readvs_served);
	mr_put(&out, ROW, "lseek() answered in user space",
	    (unsigned long long)s->lseeks_served);
	mr_put(&out, ROW, "syscalls saved", (unsigned long long)s->syscalls_saved);
	mr_put(&out, ROW, "syscalls added (mmap, fstat, ...)",
	    (unsigned long long)added);
	mr_put(&out, "mmapread:     %s\n", added_detail);
	mr_put(&out, "mmapread:   %-34s %12lld\n", "net syscalls saved",
	    (long long)(s->syscalls_saved - added));
	mr_put(&out, "mmapread:   %-34s %12s\n", "bytes served",
	    human_bytes(s->bytes_served, h1, sizeof(h1)));
	mr_put(&out, "mmapread:   %-34s %12llu  (%s)\n", "files mapped",
	    (unsigned long long)s->files_mapped,
	    human_bytes(s->bytes_mapped, h2, sizeof(h2)));
	if (s->stdio_reads || s->stdio_refills) {
		mr_put(&out, ROW, "stdio reads served",
		    (unsigned long long)s->stdio_reads);
		mr_put(&out, ROW, "stdio refills served",
		    (unsigned long long)s->stdio_refills);
	}
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		fallbacks += s->fallbacks[i];
	mr_put(&out, ROW, "fallbacks to the kernel",
	    (unsigned long long)fallbacks);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		if (s->fallbacks[i])
			mr_put(&out, "mmapread:     %-32s %12llu\n",
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
static char file_template[MR_PATH_MAX + 512] MR_LARGE_TABLE;

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
	struct mr_out o = { out, cap, 0 };

	out[0] = '\0';
	for (const char *p = file_template; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			mr_put(&o, "%ld", pid);
			p++;
		} else if (p[0] == '%' && p[1] == 'e') {
			mr_put(&o, "%s", program);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			mr_put(&o, "%%");
			p++;
		} else {
			mr_put(&o, "%c", *p);
		}
	}
}

/* The report file this image created last, and the one an exec wrote. */
static char last_created[MR_PATH_MAX + 800] MR_LARGE_TABLE;
static char exec_report_path[sizeof(last_created)] MR_LARGE_TABLE;

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
	if (fd >= 0) {
		snprintf(last_created, sizeof(last_created), "%s", tried);
		return (int)fd;
	}
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

/* ---- the report ------------------------------------------------------- */

static struct rusage_base {
	long minor, major;
} faults_at_start;

static void faults_now(long *ret_minor, long *ret_major)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0) {
		*ret_minor = *ret_major = 0;
		return;
	}
	*ret_minor = ru.ru_minflt;
	*ret_major = ru.ru_majflt;
}

void mr_stats_note_start(void)
{
	faults_now(&faults_at_start.minor, &faults_at_start.major);
}

/* Drain a live description into the file table, for the report. */
static void fold_live(struct mr_desc *desc, void *arg)
{
	(void)arg;
	if (desc->file_known &&
	    atomic_load_explicit(&desc->refs, memory_order_acquire))
		mr_stats_fold(&desc->file, &desc->counters, false);
}

static uint64_t entry_avoided(const struct file_entry *e)
{
	uint64_t sum = 0;

	for (int k = 0; k < MR_SERVED_KINDS; k++)
		sum += atomic_load_explicit(&e->c.served[k],
					    memory_order_relaxed);
	return sum;
}

/*
 * The top entries of the file table, most syscalls avoided first; the
 * rest are summed into *ret_rest. Runs once, at the report.
 */
static unsigned int top_files(const struct file_entry **ret_top,
			      unsigned int want, struct file_entry *ret_rest,
			      uint64_t *ret_rest_files)
{
	unsigned int n = 0, nslots = claimed_count();

	memset(ret_rest, 0, sizeof(*ret_rest));
	*ret_rest_files = 0;

	for (unsigned int i = 0; i <= nslots; i++) {
		const struct file_entry *e = i < nslots ? claimed_slot(i)
							: &other_files;
		const struct file_entry *out = NULL;
		uint64_t avoided;

		if (!e)
			continue;
		if (e != &other_files &&
		    atomic_load_explicit(&e->state, memory_order_acquire) !=
			    SLOT_READY)
			continue;
		avoided = entry_avoided(e);
		if (e != &other_files && avoided) {
			/* Insertion into the sorted top list. */
			unsigned int at = n;

			while (at > 0 && entry_avoided(ret_top[at - 1]) < avoided)
				at--;
			if (at < want) {
				if (n == want)
					out = ret_top[want - 1];
				else
					n++;
				memmove(&ret_top[at + 1], &ret_top[at],
					(n - 1 - at) * sizeof(*ret_top));
				ret_top[at] = e;
			} else {
				out = e;
			}
		} else if (e == &other_files ||
			   atomic_load_explicit(&e->opens,
						memory_order_relaxed)) {
			out = e;
		}
		if (!out)
			continue;
		if (out != &other_files)
			(*ret_rest_files)++;
		for (int k = 0; k < MR_SERVED_KINDS; k++)
			ret_rest->c.served[k] += atomic_load_explicit(
				&out->c.served[k], memory_order_relaxed);
		ret_rest->c.bytes += atomic_load_explicit(
			&out->c.bytes, memory_order_relaxed);
	}
	return n;
}

static const char *const bucket_keys[MR_SIZE_BUCKETS] = {
	"1-63", "64-511", "512-4095", "4096-65535", "65536+"
};

static const char *const ended_names[] = {
	[MR_ENDED_EXIT] = "exit",
	[MR_ENDED_EXEC] = "exec",
	[MR_ENDED__EXIT] = "_exit",
};

static void put_json_served(struct mr_out *out, const struct mr_file_counters *c)
{
	mr_put(out, "{\"read\": %llu, \"pread\": %llu, \"readv\": %llu, "
		 "\"lseek\": %llu}",
	    (unsigned long long)c->served[MR_SERVED_READ],
	    (unsigned long long)c->served[MR_SERVED_PREAD],
	    (unsigned long long)c->served[MR_SERVED_READV],
	    (unsigned long long)c->served[MR_SERVED_LSEEK]);
}

/* The system calls mmapread makes on its own behalf, as each report names
 * them (JSON key, text label). */
static const struct {
	enum mr_counter counter;
	const char *key, *label;
} added_kinds[] = {
	{ MR_C_SYS_MMAP, "mmap", "mmap" },
	{ MR_C_SYS_MUNMAP, "munmap", "munmap" },
	{ MR_C_SYS_FSTAT, "fstat", "fstat/fstatfs" },
	{ MR_C_SYS_LSEEK, "lseek", "lseek" },
	{ MR_C_SYS_SIGACTION, "signal", "signals" },
	{ MR_C_SYS_READLINK, "readlink", "readlink" },
	{ MR_C_SYS_OTHER, "other", "other" },
};
#define ADDED_KINDS (sizeof(added_kinds) / sizeof(added_kinds[0]))

struct report_data {
	struct mmapread_stats s;
	const char *program;
	long pid, ppid;
	enum mr_ended_by how;
	long minor_faults, major_faults;
	const struct file_entry *top[FILES_MAX];
	unsigned int ntop;
	struct file_entry rest;
	uint64_t rest_files;
};

static size_t format_json(char *buf, size_t cap, const struct report_data *r)
{
	struct mr_out out = { buf, cap, 0 };
	const struct mmapread_stats *s = &r->s;
	bool first = true;

	if (cap)
		buf[0] = '\0';
	mr_put(&out, "{\"schema\": \"mmapread-report\", \"version\": 1, "
		  "\"program\": ");
	mr_put_json_string(&out, r->program);
	mr_put(&out, ", \"pid\": %ld, \"ppid\": %ld, \"ended_by\": \"%s\",",
	    r->pid, r->ppid, ended_names[r->how]);
	mr_put(&out, " \"served\": {\"read\": %llu, \"pread\": %llu, "
		  "\"readv\": %llu, \"lseek\": %llu},",
	    (unsigned long long)s->reads_served,
	    (unsigned long long)s->preads_served,
	    (unsigned long long)s->readvs_served,
	    (unsigned long long)s->lseeks_served);
	mr_put(&out, " \"syscalls_avoided\": %llu,",
	    (unsigned long long)s->syscalls_saved);
	mr_put(&out, " \"syscalls_added\": {\"total\": %llu",
	       (unsigned long long)s->syscalls_added);
	for (size_t i = 0; i < ADDED_KINDS; i++)
		mr_put(&out, ", \"%s\": %llu", added_kinds[i].key,
		       (unsigned long long)load(added_kinds[i].counter));
	mr_put(&out, ", \"madvise\": 0},");
	mr_put(&out, " \"syscalls_saved\": %lld,",
	    (long long)(s->syscalls_saved - s->syscalls_added));
	mr_put(&out, " \"bytes_served\": %llu, \"files_mapped\": %llu, "
		  "\"bytes_mapped\": %llu,",
	    (unsigned long long)s->bytes_served,
	    (unsigned long long)s->files_mapped,
	    (unsigned long long)s->bytes_mapped);
	mr_put(&out, " \"stdio_reads\": %llu, \"stdio_refills\": %llu,",
	    (unsigned long long)s->stdio_reads,
	    (unsigned long long)s->stdio_refills);
	mr_put(&out, " \"page_faults\": {\"minor\": %ld, \"major\": %ld},",
	    r->minor_faults, r->major_faults);
	mr_put(&out, " \"fallbacks\": {");
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++) {
		if (!s->fallbacks[i])
			continue;
		mr_put(&out, "%s\"%s\": %llu", first ? "" : ", ", fallback_keys[i],
		    (unsigned long long)s->fallbacks[i]);
		first = false;
	}
	mr_put(&out, "},\n \"files\": [");
	for (unsigned int i = 0; i < r->ntop; i++) {
		const struct file_entry *e = r->top[i];
		struct mr_file_counters c;

		for (int k = 0; k < MR_SERVED_KINDS; k++)
			c.served[k] = atomic_load_explicit(
				&e->c.served[k], memory_order_relaxed);
		mr_put(&out, "%s\n  {\"path\": ", i ? "," : "");
		mr_put_json_string(&out, e->id.path);
		mr_put(&out, ", \"opens\": %llu, \"served\": ",
		    (unsigned long long)e->opens);
		put_json_served(&out, &c);
		mr_put(&out, ", \"syscalls_avoided\": %llu, \"bytes_served\": "
			  "%llu, \"sizes\": {",
		    (unsigned long long)entry_avoided(e),
		    (unsigned long long)e->c.bytes);
		for (int b = 0; b < MR_SIZE_BUCKETS; b++)
			mr_put(&out, "%s\"%s\": %llu", b ? ", " : "",
			    bucket_keys[b], (unsigned long long)e->c.sizes[b]);
		mr_put(&out, "}}");
	}
	mr_put(&out, "%s],\n \"other_files\": {\"files\": %llu, "
		  "\"syscalls_avoided\": %llu, \"bytes_served\": %llu}",
	    r->ntop ? "\n " : "", (unsigned long long)r->rest_files,
	    (unsigned long long)entry_avoided(&r->rest),
	    (unsigned long long)r->rest.c.bytes);
	if (mr_config()->trace) {
		mr_put(&out, ", \"traces\": ");
		if (out.len < cap)
			out.len += mr_trace_format_json(
				buf + out.len, cap - out.len,
				(unsigned int)mr_config()->top);
		else
			mr_put(&out, "[]");
	}
	if (mr_config()->verify)
		mr_put(&out, ", \"verify\": {\"checked\": %llu, "
			  "\"mismatches\": %llu}",
		    (unsigned long long)load(MR_C_VERIFY_CHECKED),
		    (unsigned long long)load(MR_C_VERIFY_MISMATCHES));
	mr_put(&out, "}\n");
	/* One line: strings never hold a raw newline (escaped above). */
	for (size_t i = 0; i + 1 < out.len && i + 1 < cap; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	return out.len;
}

/* Short human counts for the file table: 123, 12.3k, 4.5M. */
static const char *human_count(uint64_t n, char *buf, size_t cap)
{
	if (n < 10000)
		snprintf(buf, cap, "%llu", (unsigned long long)n);
	else if (n < 10000000)
		snprintf(buf, cap, "%.1fk", (double)n / 1e3);
	else
		snprintf(buf, cap, "%.1fM", (double)n / 1e6);
	return buf;
}

static void format_file_table(struct mr_out *out, const struct report_data *r);

static size_t format_text(char *buf, size_t cap, const struct report_data *r)
{
	char detail[200];
	struct mr_out out = { buf, cap, 0 };

	{
		struct mr_out d = { detail, sizeof(detail), 0 };

		for (size_t i = 0; i < ADDED_KINDS; i++)
			mr_put(&d, "%s%s %llu", i ? ", " : "(",
			       added_kinds[i].label,
			       (unsigned long long)load(added_kinds[i].counter));
		mr_put(&d, ")");
	}
	out.len = mr_stats_format(buf, cap, &r->s, r->program, r->pid, detail);
	mr_put(&out, "mmapread:   %-34s %12ld\n", "minor page faults",
	    r->minor_faults);
	mr_put(&out, "mmapread:   %-34s %12ld\n", "major page faults",
	    r->major_faults);
	if (mr_config()->verify)
		mr_put(&out, "mmapread:   %-34s %12llu  (%llu differed)\n",
		    "served reads verified by pread",
		    (unsigned long long)load(MR_C_VERIFY_CHECKED),
		    (unsigned long long)load(MR_C_VERIFY_MISMATCHES));
	if (r->ntop)
		format_file_table(&out, r);
	if (mr_config()->trace && out.len < cap)
		out.len += mr_trace_format_text(buf + out.len, cap - out.len,
						(unsigned int)mr_config()->top);
	return out.len;
}

static void format_file_table(struct mr_out *out_, const struct report_data *r)
{
	struct mr_out out = *out_;
	char h[MR_SIZE_BUCKETS + 3][16], bytes[32];

	/* Every line of the file table starts "mmapread: file", so that
	 * tools tell it from the rows above. */
	mr_put(&out, "mmapread: files %8s %8s %8s %10s %7s %7s %7s %7s %7s  %s\n",
	    "saved", "reads", "preads", "bytes", "1-63", "64-511", "512-4K",
	    "4K-64K", "64K+", "path");
	for (unsigned int i = 0; i < r->ntop; i++) {
		const struct file_entry *e = r->top[i];

		for (int b = 0; b < MR_SIZE_BUCKETS; b++)
			human_count(e->c.sizes[b], h[b], sizeof(h[b]));
		mr_put(&out,
		    "mmapread: file  %8s %8s %8s %10s %7s %7s %7s %7s %7s  %s\n",
		    human_count(entry_avoided(e), h[5], sizeof(h[5])),
		    human_count(e->c.served[MR_SERVED_READ] +
					e->c.served[MR_SERVED_READV],
				h[6], sizeof(h[6])),
		    human_count(e->c.served[MR_SERVED_PREAD], h[7],
				sizeof(h[7])),
		    human_bytes(e->c.bytes, bytes, sizeof(bytes)), h[0], h[1],
		    h[2], h[3], h[4], e->id.path);
	}
	if (r->rest_files || entry_avoided(&r->rest))
		mr_put(&out, "mmapread: file  %8s %8s %8s %10s  (%llu other files)\n",
		    human_count(entry_avoided(&r->rest), h[5], sizeof(h[5])),
		    "", "", human_bytes(r->rest.c.bytes, bytes, sizeof(bytes)),
		    (unsigned long long)r->rest_files);
	*out_ = out;
}

/* Written once per process image; static, because it may be large. */
static char report_text[65536] MR_LARGE_TABLE;
static struct report_data report MR_LARGE_TABLE;

void mr_stats_report(enum mr_ended_by how)
{
	size_t len;
	int saved_errno = errno;
	int fd = report_fd;
	long minor, major;

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
	mr_desc_for_each_live(fold_live, NULL);
	mr_stats_snapshot(&report.s);
	report.program = program_invocation_short_name;
	report.pid = (long)getpid();
	report.ppid = (long)getppid();
	report.how = how;
	faults_now(&minor, &major);
	report.minor_faults = minor - faults_at_start.minor;
	report.major_faults = major - faults_at_start.major;
	report.ntop = top_files(report.top,
				mr_config()->top < FILES_MAX
					? (unsigned int)mr_config()->top
					: FILES_MAX,
				&report.rest, &report.rest_files);
	len = mr_config()->stats_format == MR_FORMAT_JSON
		      ? format_json(report_text, sizeof(report_text), &report)
		      : format_text(report_text, sizeof(report_text), &report);
	if (len >= sizeof(report_text))
		len = sizeof(report_text) - 1;
	for (size_t done = 0; done < len;) {
		ssize_t n = mr_sys_write(fd, report_text + done, len - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (file_template[0]) {
		syscall(SYS_close, fd);
		if (how == MR_ENDED_EXEC)
			memcpy(exec_report_path, last_created,
			       sizeof(exec_report_path));
	}
out:
	errno = saved_errno;
}

void mr_stats_report_at_exit(void)
{
	mr_stats_report(MR_ENDED_EXIT);
}

static void forget_counters(struct mr_file_counters *c)
{
	for (int k = 0; k < MR_SERVED_KINDS; k++)
		take(&c->served[k]);
	take(&c->bytes);
	for (int b = 0; b < MR_SIZE_BUCKETS; b++)
		take(&c->sizes[b]);
}

static void forget_live(struct mr_desc *desc, void *arg)
{
	(void)arg;
	forget_counters(&desc->counters);
}

/* Counting starts again at zero (the files keep their slots). */
static void restart_counts(void)
{
	unsigned int n = claimed_count();

	for (unsigned int i = 0; i <= n; i++) {
		struct file_entry *e = i < n ? claimed_slot(i) : &other_files;

		if (!e)
			continue;
		take(&e->opens);
		forget_counters(&e->c);
	}
	mr_desc_for_each_live(forget_live, NULL);
	mr_stats_note_start();
	for (int i = 0; i < MR_C_COUNT; i++)
		atomic_store_explicit(&mr_counters[i], 0, memory_order_relaxed);
	for (int i = 0; i < MMAPREAD_FB_COUNT; i++)
		atomic_store_explicit(&mr_fallback_counters[i], 0,
				      memory_order_relaxed);
}

void mr_stats_restart_in_child(void)
{
	restart_counts();
	report_owner = getpid();
	atomic_store(&reported, false);
}

/*
 * An exec that failed: its report (ended by exec) is written, and the
 * process goes on. What it does from now on is a new report's, which
 * is written, once, when it ends.
 */
void mr_stats_restart_after_failed_exec(void)
{
	if (getpid() != report_owner || !atomic_load(&reported))
		return;
	/* A report file we just created is taken back (shells and
	 * execvp-like loops try several paths): the one written at the end
	 * then covers the whole image. On stderr it stands, and the next
	 * report counts only what follows. */
	if (exec_report_path[0]) {
		syscall(SYS_unlink, exec_report_path);
		exec_report_path[0] = '\0';
	} else {
		restart_counts();
	}
	atomic_store(&reported, false);
}
