/*
 * truncation: another process shrinks a file under the mapping.
 *
 * For each scenario a fresh file is mapped by small reads, then a helper
 * process (forked at start, before anything was mapped) truncates it, and
 * the first access after that crosses or lies past the new end: read,
 * pread, readv or preadv. The kernel's answer (short count, 0) is the only
 * right one: no SIGBUS, no zeros from the tail of the last page, no bytes
 * that are not in the file any more. Then a few follow-up calls show that
 * the offset and the file size are still the kernel's. A last scenario
 * spawns /usr/bin/truncate while the file is mapped.
 */
#include "common.h"

#include <spawn.h>
#include <sys/uio.h>

#define BASE (256 * 1024 + 300) /* not page-aligned: the last page is partial */

enum access { A_READ, A_PREAD, A_READV, A_PREADV };

struct scenario {
	const char *what;
	long long new_size;   /* the truncation */
	long long regrow;     /* then grown back to this size, or 0 */
	long long offset;     /* where the offset is before the truncation */
	enum access access;   /* the first access after it */
	size_t count;         /* its size (readv: two halves) */
	long long at;         /* pread/preadv position */
};

static const struct scenario scenarios[] = {
	{ "to 0, read at 12288", 0, 0, 12288, A_READ, 4096, 0 },
	{ "to 0, pread at 0", 0, 0, 12288, A_PREAD, 4096, 0 },
	{ "to 10000, read at 8192 (short count)", 10000, 0, 8192, A_READ,
	  4096, 0 },
	{ "to 10000, pread inside the partial page past EOF", 10000, 0, 8192,
	  A_PREAD, 1000, 10500 },
	{ "to 10000, pread across the new end", 10000, 0, 8192, A_PREAD, 100,
	  9950 },
	{ "to 10000, readv at 8192", 10000, 0, 8192, A_READV, 6000, 0 },
	{ "to 10000, preadv ending exactly at the page end", 10000, 0, 8192,
	  A_PREADV, 3288, 9000 },
	{ "to 16384 (page-aligned), read at 12288 then past", 16384, 0, 12288,
	  A_READ, 4096, 0 },
	{ "to 16384, preadv across the new end", 16384, 0, 12288, A_PREADV,
	  8192, 12288 },
	{ "to 16384, pread of a page wholly past EOF", 16384, 0, 12288,
	  A_PREAD, 4096, 100000 },
	{ "to 200000, pread across the new end", 200000, 0, 12288, A_PREAD,
	  8192, 196608 },
	{ "inside the last partial page, pread at the old end", BASE - 44, 0,
	  12288, A_PREAD, 100, BASE - 100 },
	{ "inside the last partial page, read to the end", BASE - 44, 0,
	  BASE - 300, A_READ, 300, 0 },
	{ "to 5000 while the offset is past it", 5000, 0, 12288, A_READ, 4096,
	  0 },
	{ "to 0 and back to the old size (zeros)", 0, BASE, 12288, A_READ,
	  4096, 0 },
	{ "to 10000 and back to the old size, read across", 10000, BASE, 8192,
	  A_READV, 8192, 0 },
	{ "to 100000, read on from 12288 to the new end", 100000, 0, 12288,
	  A_READ, 4096, 0 },
};

static char buf[65536], half1[32768], half2[32768];

static long long access_once(int fd, enum access access, size_t count,
			     long long at)
{
	struct iovec iov[2] = { { half1, count / 2 },
				{ half2, count - count / 2 } };

	switch (access) {
	case A_READ:
		return DO(fd, buf, read(fd, buf, count), "read(%zu)", count);
	case A_PREAD:
		return DO(fd, buf, pread(fd, buf, count, (off_t)at),
			  "pread(%zu, %lld)", count, at);
	case A_READV:
		return DOV(fd, iov, 2, readv(fd, iov, 2), "readv(%zu+%zu)",
			   iov[0].iov_len, iov[1].iov_len);
	default:
		return DOV(fd, iov, 2, preadv(fd, iov, 2, (off_t)at),
			   "preadv(%zu+%zu, %lld)", iov[0].iov_len,
			   iov[1].iov_len, at);
	}
}

static void run(int n, const struct scenario *s)
{
	struct mmapread_stats before, after;
	char name[32], what[160];
	int fd;

	snprintf(name, sizeof(name), "file%d", n);
	section(s->what);
	make_file(name, BASE, 7 + (unsigned int)n);
	fd = open_ro(name);
	get_stats(&before);
	/* Map it: three small reads with plenty left, then go to offset. */
	for (int i = 0; i < 3; i++)
		DO(fd, buf, read(fd, buf, 2048), "read(2048)");
	DO(fd, NULL, lseek(fd, s->offset, SEEK_SET), "lseek(%lld, SEEK_SET)",
	   s->offset);
	get_stats(&after);
	snprintf(what, sizeof(what), "truncation %d: mapped before truncating",
		 n);
	preload_check(what, after.files_mapped == before.files_mapped + 1);

	truncate_by_other_process(name, s->new_size);
	if (s->regrow)
		truncate_by_other_process(name, s->regrow);

	access_once(fd, s->access, s->count, s->at);

	/* Whatever happened, the kernel's view must hold from here on. */
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "lseek(0, SEEK_CUR)");
	if (s->access == A_READ && s->new_size == 100000) {
		for (;;) {
			if (DO(fd, buf, read(fd, buf, 4096), "read(4096)") <= 0)
				break;
		}
	}
	access_once(fd, A_READ, 4096, 0);
	access_once(fd, A_READ, 4096, 0);
	access_once(fd, A_PREAD, 4096, 0);
	access_once(fd, A_PREAD, 4096, 8192);
	access_once(fd, A_PREADV, 4096, 9000);
	access_once(fd, A_READV, 3000, 0);
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	DO(fd, NULL, lseek(fd, -100, SEEK_END), "lseek(-100, SEEK_END)");
	access_once(fd, A_READ, 4096, 0);
	DO(fd, NULL, lseek(fd, 8000, SEEK_SET), "lseek(8000, SEEK_SET)");
	access_once(fd, A_READ, 4096, 0);
	DO(-1, NULL, close(fd), "close");
}

/*
 * The way a shell script would do it: posix_spawn /usr/bin/truncate while
 * the file is mapped. mmapread hands its mappings to the kernel at spawn,
 * so this checks that path (the kernel's answers, no SIGBUS) rather than
 * recovery from a fault.
 */
static void spawned_truncate(void)
{
	char *argv[] = { "truncate", "-s", "10000", NULL, NULL };
	pid_t pid;
	int fd, status, err;

	section("to 10000 by a spawned /usr/bin/truncate, read at 8192");
	make_file("spawned", BASE, 40);
	fd = open_ro("spawned");
	for (int i = 0; i < 4; i++)
		DO(fd, buf, read(fd, buf, 2048), "read(2048)");
	argv[3] = (char *)dpath("spawned");
	err = posix_spawn(&pid, "/usr/bin/truncate", NULL, NULL, argv, environ);
	if (err != 0) {
		errno = err;
		die("posix_spawn truncate");
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	printf("[spawned] truncate -s 10000: exit %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	access_once(fd, A_READ, 4096, 0);
	access_once(fd, A_READ, 4096, 0);
	access_once(fd, A_PREAD, 4096, 8192);
	access_once(fd, A_PREADV, 4096, 9000);
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(0, SEEK_END)");
	close(fd);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	helper_start();
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run((int)i, &scenarios[i]);
	spawned_truncate();
	return 0;
}
