/*
 * lifecycle_lib: the shared library of the lifecycle program (see
 * lifecycle.c): it reads a file from its constructor, from its destructor
 * and from an exit handler its constructor registers, and reads on from
 * an fd the program mapped and left open; it does the reading (and the
 * printing) for the program, too.
 *
 * Everything it prints goes straight to fd 1 with dprintf(): its
 * constructor runs before the program's stdio is set up, and its exit
 * handler may run after stdio was flushed for the last time.
 */
#include "common.h"

#include "lifecycle_lib.h"

static char lib_data_dir[4096];
static char image[32] = "first";

/*
 * Open data_dir/name, read it whole in 16-byte reads, then lseek, pread
 * and readv it; every call with errno set to the canary first. Prints
 * one line with what the kernel's semantics fix: sizes, checksums and how
 * many successful calls changed errno (never any).
 */
void lifecycle_read(const char *where, const char *name)
{
	struct mmapread_stats before, after;
	unsigned char buf[16], b1[5], b2[11];
	struct iovec iov[2] = { { b1, sizeof(b1) }, { b2, sizeof(b2) } };
	uint64_t sum = FNV_INIT, psum = 0, vsum = 0;
	long reads = 0, changed = 0, total = 0;
	ssize_t n;
	off_t off;
	char path[4200];
	int fd, eof_errno, close_ret;

	get_stats(&before);
	snprintf(path, sizeof(path), "%s/%s", lib_data_dir, name);
	errno = ERRNO_CANARY;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		dprintf(1, "%s: %s: open %s: %s\n", image, where, name,
			errname(errno));
		return;
	}
	changed += errno != ERRNO_CANARY;
	for (;;) {
		errno = ERRNO_CANARY;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		changed += errno != ERRNO_CANARY;
		sum = fnv1a(sum, buf, (size_t)n);
		total += n;
		reads++;
	}
	eof_errno = errno;
	errno = ERRNO_CANARY;
	off = lseek(fd, 100, SEEK_SET);
	changed += off >= 0 && errno != ERRNO_CANARY;
	errno = ERRNO_CANARY;
	if (pread(fd, buf, sizeof(buf), 200) == (ssize_t)sizeof(buf)) {
		changed += errno != ERRNO_CANARY;
		psum = sum_bytes(buf, sizeof(buf));
	}
	errno = ERRNO_CANARY;
	if (readv(fd, iov, 2) == (ssize_t)(sizeof(b1) + sizeof(b2))) {
		changed += errno != ERRNO_CANARY;
		vsum = fnv1a(sum_bytes(b1, sizeof(b1)), b2, sizeof(b2));
	}
	errno = ERRNO_CANARY;
	close_ret = close(fd);
	changed += close_ret == 0 && errno != ERRNO_CANARY;
	get_stats(&after);
	dprintf(1, "%s: %s: %s: %ld bytes in %ld reads, sum %016" PRIx64
		", last read %zd (errno %s); lseek(100) = %lld, pread(16, "
		"200) sum %016" PRIx64 ", readv(5 + 11) sum %016" PRIx64
		", close %d; successes that changed errno: %ld\n", image,
		where, name, total, reads, sum, n,
		eof_errno == ERRNO_CANARY ? "untouched" : errname(eof_errno),
		(long long)off, psum, vsum, close_ret, changed);
	if (under_preload())
		dprintf(2, "lifecycle: %s: %s: %" PRIu64 " calls served\n",
			image, where, served_total(&after) -
					      served_total(&before));
}

static int kept_fd = -1;
static uint32_t kept_next;

void lifecycle_keep(int fd, uint32_t next)
{
	kept_fd = fd;
	kept_next = next;
}

/* Read n records on from the kept fd (the records file "kept"). */
static void read_kept(const char *where, int n)
{
	struct mmapread_stats before, after;
	long wrong = 0, changed = 0, failed = 0;
	off_t off;

	if (kept_fd < 0)
		return;
	get_stats(&before);
	for (int i = 0; i < n; i++) {
		uint32_t v;
		ssize_t got;

		errno = ERRNO_CANARY;
		got = read(kept_fd, &v, sizeof(v));
		if (got != (ssize_t)sizeof(v)) {
			failed++;
			continue;
		}
		changed += errno != ERRNO_CANARY;
		wrong += v != kept_next++;
	}
	get_stats(&after);
	preload_check("lifecycle: reads of the kept fd at the end were "
		      "served", after.reads_served >= before.reads_served + n);
	off = lseek(kept_fd, 0, SEEK_CUR);
	dprintf(1, "%s: %s: kept fd: %d reads of a record: failed %ld, "
		"wrong %ld, successes that changed errno %ld, offset %lld\n",
		image, where, n, failed, wrong, changed, (long long)off);
}

const char *lifecycle_image(void)
{
	return image;
}

const char *lifecycle_lib_path(void)
{
	static char path[PATH_MAX];
	Dl_info info;

	if (!dladdr((void *)lifecycle_lib_path, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, path))
		return NULL;
	return path;
}

static void lib_at_exit(void)
{
	dprintf(2, "lifecycle: %s: the library's exit handler\n", image);
	lifecycle_read("exit handler registered by the library", "lib-data");
	read_kept("exit handler registered by the library", 8);
	if (kept_fd >= 0)
		dprintf(1, "%s: kept fd: close = %d\n", image, close(kept_fd));
}

/* glibc calls ELF constructors with the program's arguments. */
__attribute__((constructor)) static void lib_constructor(int argc,
							 char **argv)
{
	struct mmapread_stats before, after;
	unsigned char chunk[1024];
	char path[4200];
	int fd;

	/* Only when started by run-compare, with a data directory. */
	if (argc < 2)
		return;
	snprintf(lib_data_dir, sizeof(lib_data_dir), "%s", argv[1]);
	if (argc > 2)
		snprintf(image, sizeof(image), "%s", argv[2]);

	/*
	 * The file is made with raw system calls, so that the first call to
	 * reach mmapread (which resolves the real functions then) is one
	 * whose errno is checked.
	 */
	snprintf(path, sizeof(path), "%s/lib-data", lib_data_dir);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	for (size_t off = 0; off < LIFECYCLE_FILE_SIZE; off += sizeof(chunk)) {
		fill_pattern(chunk, off, sizeof(chunk), 41);
		if (syscall(SYS_write, fd, chunk, sizeof(chunk)) !=
		    (long)sizeof(chunk))
			return;
	}
	syscall(SYS_close, fd);

	get_stats(&before);
	lifecycle_read("library constructor", "lib-data");
	get_stats(&after);
	preload_check("lifecycle: the library constructor's reads were "
		      "served", after.files_mapped > before.files_mapped &&
				    served_total(&after) >
					    served_total(&before));

	/*
	 * mmapread reports at exit when MMAPREAD_STATS=1 (the test sets it
	 * in the preload run) and for that keeps a duplicate of stderr at
	 * fd 1000 or above, made by its constructor: so whether fd 1000 is
	 * open here says whether that constructor has run yet.
	 */
	if (under_preload() && getenv("MMAPREAD_STATS") &&
	    strcmp(image, "quick") != 0) {
		bool ran = syscall(SYS_fcntl, 1000, F_GETFD) >= 0;

		preload_check(strcmp(image, "first") == 0
				      ? "lifecycle: a library the program "
					"links runs its constructor before "
					"mmapread's"
				      : "lifecycle: a library listed before "
					"mmapread in LD_PRELOAD runs its "
					"constructor after mmapread's",
			      strcmp(image, "first") == 0 ? !ran : ran);
	}
	atexit(lib_at_exit);
}

__attribute__((destructor)) static void lib_destructor(void)
{
	if (!lib_data_dir[0])
		return;
	dprintf(2, "lifecycle: %s: the library's destructor\n", image);
	lifecycle_read("library destructor", "lib-data");
	read_kept("library destructor", 8);
}
