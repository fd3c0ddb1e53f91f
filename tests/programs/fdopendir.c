/*
 * fdopendir: a directory fd handed to libc, whose number comes back.
 *
 * A directory opened with open() is tracked like any fd; fdopendir gives
 * it to libc, which reads it with getdents and moves its offset with
 * lseek (rewinddir, seekdir) inside libc, and closedir closes it there,
 * where no preload sees it. The number then comes back as a regular file
 * that is read in small chunks (so mmapread maps it): from open(), and
 * from fopen() (libc's own open) followed by fclose() (libc's own close)
 * and a pipe. Each must read its own bytes. A dup of the directory fd
 * outlives closedir and still reads as a directory. fdopendir of a mapped
 * regular file fails with ENOTDIR and reading goes on at its offset.
 *
 * Directory order and offsets are the filesystem's: names are printed
 * sorted; offsets are the kernel's answers, the same in both runs.
 */
#include "common.h"

#include <dirent.h>
#include <sys/ioctl.h>

#define DATA_SIZE (300 * 1024)
#define ENTRIES 40

static char buf[65536];

/* The number must come back: otherwise the case would prove nothing. */
static void must_be_n(const char *what, int got, int n)
{
	if (got != n)
		die("%s did not get the number N", what);
	printf("%s has the number N\n", what);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* readdir to the end; print how many entries and the sorted names' sum. */
static void list(DIR *d, const char *label)
{
	static char names[ENTRIES + 8][NAME_MAX + 1];
	char *sorted[ENTRIES + 8];
	uint64_t hash = FNV_INIT;
	struct dirent *e;
	int count = 0;

	errno = ERRNO_CANARY;
	while ((e = readdir(d)) != NULL) {
		if (count < ENTRIES + 8) {
			snprintf(names[count], sizeof(names[0]), "%s",
				 e->d_name);
			sorted[count] = names[count];
		}
		count++;
	}
	printf("%s: %d entries, readdir ended with %s\n", label, count,
	       errno == ERRNO_CANARY ? "no error" : errname(errno));
	if (count > ENTRIES + 8)
		count = ENTRIES + 8;
	qsort(sorted, (size_t)count, sizeof(sorted[0]), by_name);
	for (int i = 0; i < count; i++)
		hash = fnv1a(hash, sorted[i], strlen(sorted[i]) + 1);
	printf("   names sum=%016" PRIx64 " first \"%s\" last \"%s\"\n", hash,
	       count ? sorted[0] : "", count ? sorted[count - 1] : "");
}

static void make_dir(void)
{
	char name[32];

	if (mkdir(dpath("dir"), 0755) != 0)
		die("mkdir");
	for (int i = 0; i < ENTRIES; i++) {
		snprintf(name, sizeof(name), "dir/entry-%02d", i);
		make_file(name, (size_t)i * 10, (unsigned int)i);
	}
}

/*
 * The number is a regular file now: read it so that a tracked one gets
 * mapped (one from fopen() is libc's, and may stay untracked).
 */
static void read_as_file(int n, const char *label, bool tracked)
{
	struct mmapread_stats before, after;
	char check[160];

	get_stats(&before);
	for (int i = 0; i < 6; i++)
		DO(n, buf, read(n, buf, 1000), "read(N, 1000)");
	DO(n, NULL, lseek(n, -2500, SEEK_CUR), "lseek(N, -2500, SEEK_CUR)");
	DO(n, buf, read(n, buf, 1000), "read(N, 1000)");
	DO(n, buf, pread(n, buf, 1000, 100), "pread(N, 1000, 100)");
	get_stats(&after);
	snprintf(check, sizeof(check), "fdopendir: %s was served", label);
	if (tracked)
		preload_check(check,
			      served_total(&after) > served_total(&before));
}

static void dir_then_open(void)
{
	long pos;
	DIR *d;
	int n, got;

	section("open(dir), read, fdopendir, readdir, rewinddir, closedir; "
		"then open() takes the number");
	n = open(dpath("dir"), O_RDONLY | O_CLOEXEC);
	if (n < 0)
		die("open dir");
	for (int i = 0; i < 4; i++)
		DO(n, NULL, read(n, buf, 100), "read(dir, 100)");
	DO(n, NULL, lseek(n, 0, SEEK_CUR), "lseek(dir, 0, SEEK_CUR)");
	d = fdopendir(n);
	if (!d)
		die("fdopendir");
	must_be_n("dirfd(fdopendir())", dirfd(d), n);
	list(d, "readdir");
	DO(n, NULL, read(n, buf, 100), "read(dirfd, 100)");
	rewinddir(d);
	DO(n, NULL, lseek(n, 0, SEEK_CUR),
	   "after rewinddir: lseek(dirfd, 0, SEEK_CUR)");
	for (int i = 0; i < 5; i++)
		readdir(d);
	pos = telldir(d);
	{
		struct dirent *e = readdir(d);
		char first[NAME_MAX + 1];

		snprintf(first, sizeof(first), "%s", e ? e->d_name : "");
		list(d, "the rest after 6");
		seekdir(d, pos);
		e = readdir(d);
		printf("seekdir(telldir()) gives the same entry again: %s\n",
		       e && strcmp(e->d_name, first) == 0 ? "yes" : "no");
	}
	DO(-1, NULL, closedir(d), "closedir");

	got = open_ro("data");
	must_be_n("the file", got, n);
	read_as_file(got, "open() after closedir", true);
	close(got);
}

static void dir_then_fopen(void)
{
	FILE *f;
	DIR *d;
	int n, p[2];

	section("open(dir) never read, fdopendir, closedir; then fopen, "
		"fclose and a pipe take the number");
	n = open(dpath("dir"), O_RDONLY | O_CLOEXEC);
	if (n < 0)
		die("open dir");
	d = fdopendir(n);
	if (!d)
		die("fdopendir");
	list(d, "readdir");
	DO(-1, NULL, closedir(d), "closedir");

	f = fopen(dpath("data"), "re");
	if (!f)
		die("fopen");
	must_be_n("fileno(fopen())", fileno(f), n);
	read_as_file(fileno(f), "fopen() after closedir", false);
	DO(-1, NULL, fclose(f), "fclose");

	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe2");
	must_be_n("the pipe's read end", p[0], n);
	write_all(p[1], "PIPE", 4);
	DO(-1, buf, read(p[0], buf, 4096), "read(N, 4096)");
	DO(-1, NULL, lseek(p[0], 0, SEEK_CUR), "lseek(N, 0, SEEK_CUR)");
	DO(-1, NULL, pread(p[0], buf, 10, 0), "pread(N, 10, 0)");
	close(p[0]);
	close(p[1]);
}

static void opendir_then_open(void)
{
	DIR *d;
	int n, got;

	section("opendir (libc's own open), closedir; then open() takes the "
		"number");
	d = opendir(dpath("dir"));
	if (!d)
		die("opendir");
	n = dirfd(d);
	list(d, "readdir");
	DO(n, NULL, read(n, buf, 100), "read(dirfd, 100)");
	DO(-1, NULL, closedir(d), "closedir");
	got = open_ro("data");
	must_be_n("the file", got, n);
	read_as_file(got, "open() after opendir", true);
	close(got);
}

static void dup_outlives(void)
{
	DIR *d;
	int n, m, got;

	section("a dup of the directory fd outlives closedir");
	n = open(dpath("dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	m = fcntl(n, F_DUPFD_CLOEXEC, n + 20);
	if (n < 0 || m < 0)
		die("open dir");
	d = fdopendir(n);
	if (!d)
		die("fdopendir");
	for (int i = 0; i < 3; i++)
		readdir(d);
	DO(-1, NULL, closedir(d), "closedir");
	DO(-1, NULL, lseek(m, 0, SEEK_SET), "lseek(dup, 0, SEEK_SET)");
	DO(-1, NULL, read(m, buf, 100), "read(dup, 100)");
	d = fdopendir(m);
	if (!d)
		die("fdopendir dup");
	list(d, "readdir(dup)");
	got = open_ro("data");
	must_be_n("the file", got, n);
	read_as_file(got, "open() while a dup of the directory lives",
		     true);
	DO(-1, NULL, closedir(d), "closedir(dup)");
	DO(got, buf, read(got, buf, 1000), "read(N, 1000)");
	close(got);
}

static void regular_file(void)
{
	int fd, avail = -1;
	DIR *d;

	section("fdopendir of a mapped regular file: ENOTDIR, reading goes on");
	fd = open_ro("data");
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, NULL, lseek(fd, 12345, SEEK_SET), "lseek(12345, SEEK_SET)");
	errno = ERRNO_CANARY;
	d = fdopendir(fd);
	printf("fdopendir = %s %s\n", d ? "a DIR" : "NULL",
	       d ? "" : errname(errno));
	if (d)
		closedir(d);
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "lseek(0, SEEK_CUR)");
	DO(fd, NULL, ioctl(fd, FIONREAD, &avail), "ioctl(FIONREAD)");
	printf("   FIONREAD: %d\n", avail);
	for (int i = 0; i < 3; i++)
		DO(fd, buf, read(fd, buf, 1000), "read(1000)");
	DO(fd, buf, pread(fd, buf, 1000, 50000), "pread(1000, 50000)");
	close(fd);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	make_file("data", DATA_SIZE, 40);
	make_dir();
	dir_then_open();
	dir_then_fopen();
	opendir_then_open();
	dup_outlives();
	regular_file();
	return 0;
}
