/*
 * nonregular: what is not a regular file passes through untouched.
 *
 * A pipe, a FIFO opened with open() (so mmapread tracks it), /dev/zero,
 * /dev/null, /proc and /sys files read in small chunks (mmapread must see
 * they are pseudo files even though /sys says 4096 bytes), a directory
 * opened O_RDONLY (read gives EISDIR), an empty regular file, an O_WRONLY
 * and an O_PATH descriptor. Each is read often enough in small chunks that
 * mmapread would map a regular file. The preload must serve none of them:
 * checked on stderr from the counters. Last, regular files opened O_RDONLY
 * and O_RDWR (written in the middle of its reads) show that the preload was
 * at work at all.
 *
 * /proc/self/status differs between runs, so only its return values'
 * shape and first line ("Name:") are printed.
 */
#include "common.h"

#include <sys/socket.h>
#include <sys/uio.h>

static char buf[65536];

static void many_reads(int fd, const char *name, size_t chunk, int count)
{
	for (int i = 0; i < count; i++)
		DO(-1, buf, read(fd, buf, chunk), "read(%s, %zu)", name, chunk);
}

/* Read a pseudo file in chunk-sized reads; print content if stable. */
static void pseudo_file(const char *path, size_t chunk, bool stable)
{
	static char all[1 << 16];
	size_t len = 0;
	int fd, calls = 0, full = 0;
	ssize_t n;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: open %s\n", path, errname(errno));
		return;
	}
	for (;;) {
		errno = ERRNO_CANARY;
		n = read(fd, buf, chunk);
		if (n <= 0)
			break;
		if (errno != ERRNO_CANARY)
			printf("%s: errno changed on success\n", path);
		calls++;
		if ((size_t)n == chunk)
			full++;
		if (len + (size_t)n < sizeof(all)) {
			memcpy(all + len, buf, (size_t)n);
			len += (size_t)n;
		}
	}
	printf("%s: reads of %zu: the last one %zd%s%s, %s\n", path, chunk, n,
	       n < 0 ? " " : "", n < 0 ? errname(errno) : "",
	       calls > 1 ? "more than one with data" : "one or none with data");
	if (stable) {
		printf("%s: %d calls, %d full, %zu bytes sum=%016" PRIx64 "\n",
		       path, calls, full, len, sum_bytes(all, len));
		printf("%s: content: %.*s", path, (int)len, all);
		if (len == 0 || all[len - 1] != '\n')
			putchar('\n');
	} else {
		char *nl = memchr(all, '\n', len);

		printf("%s: first line: %.*s\n", path,
		       nl ? (int)(nl - all) : (int)len, all);
	}
	DO(stable ? fd : -1, buf, pread(fd, buf, 16, 0), "pread(%s, 16, 0)",
	   path);
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "lseek(%s, 0, SEEK_SET)", path);
	DO(-1, NULL, read(fd, buf, chunk) > 0, "read(%s, %zu) > 0 after rewinding", path, chunk);
	close(fd);
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	int p[2], fd, wfd, sv[2];
	struct iovec iov[2] = { { buf, 7 }, { buf + 7, 9 } };

	setup(argc, argv);
	make_file("regular", 256 * 1024, 8);
	make_file("empty", 0, 8);
	get_stats(&before);

	section("pipe");
	if (pipe2(p, 0) != 0)
		die("pipe2");
	for (int i = 0; i < 100; i++)
		write_all(p[1], "hello pipe\n", 11);
	close(p[1]);
	for (;;) {
		if (DO(-1, buf, read(p[0], buf, 10), "read(pipe, 10)") <= 0)
			break;
	}
	DO(-1, NULL, lseek(p[0], 0, SEEK_CUR), "lseek(pipe, 0, SEEK_CUR)");
	DO(-1, buf, pread(p[0], buf, 10, 0), "pread(pipe, 10, 0)");
	DO(-1, NULL, readv(p[0], iov, 2), "readv(pipe) at EOF");
	close(p[0]);

	section("FIFO opened with open()");
	if (mkfifo(dpath("fifo"), 0600) != 0)
		die("mkfifo");
	fd = open(dpath("fifo"), O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		die("open fifo for reading");
	wfd = open(dpath("fifo"), O_WRONLY | O_NONBLOCK);
	if (wfd < 0)
		die("open fifo for writing");
	DO(-1, buf, read(fd, buf, 10), "read(fifo, 10) while empty");
	for (int i = 0; i < 200; i++)
		write_all(wfd, "0123456789abcdefghijklmnopqrstuvwxyz\n", 37);
	many_reads(fd, "fifo", 100, 10);
	DO(-1, buf, pread(fd, buf, 10, 0), "pread(fifo, 10, 0)");
	DO(-1, NULL, lseek(fd, 0, SEEK_SET), "lseek(fifo, 0, SEEK_SET)");
	DOV(-1, iov, 2, readv(fd, iov, 2), "readv(fifo, 7+9)");
	DOV(-1, iov, 2, preadv(fd, iov, 2, 0), "preadv(fifo, 7+9, 0)");
	DOV(-1, iov, 2, preadv2(fd, iov, 2, -1, 0), "preadv2(fifo, 7+9, -1, 0)");
	many_reads(fd, "fifo", 1000, 10);
	close(wfd);
	DO(-1, buf, read(fd, buf, 10), "read(fifo, 10) after the writer closed");
	close(fd);

	section("socketpair");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair");
	write_all(sv[1], "socket data, socket data, socket data", 37);
	shutdown(sv[1], SHUT_WR);
	many_reads(sv[0], "socket", 5, 9);
	DO(-1, NULL, lseek(sv[0], 0, SEEK_CUR), "lseek(socket, 0, SEEK_CUR)");
	close(sv[0]);
	close(sv[1]);

	section("/dev/zero");
	fd = open("/dev/zero", O_RDONLY);
	if (fd < 0)
		die("open /dev/zero");
	many_reads(fd, "/dev/zero", 100, 50);
	DO(fd, NULL, lseek(fd, 12345, SEEK_SET), "lseek(/dev/zero, 12345, SEEK_SET)");
	DO(fd, buf, pread(fd, buf, 4096, 1 << 20), "pread(/dev/zero, 4096, 1M)");
	DOV(fd, iov, 2, readv(fd, iov, 2), "readv(/dev/zero, 7+9)");
	DO(fd, buf, read(fd, buf, 65536), "read(/dev/zero, 65536)");
	close(fd);

	section("/dev/null");
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		die("open /dev/null");
	many_reads(fd, "/dev/null", 100, 5);
	DO(fd, buf, pread(fd, buf, 100, 100), "pread(/dev/null, 100, 100)");
	DO(fd, NULL, lseek(fd, 100, SEEK_SET), "lseek(/dev/null, 100, SEEK_SET)");
	close(fd);

	section("pseudo files");
	pseudo_file("/proc/sys/kernel/ostype", 1, true);
	pseudo_file("/proc/version", 3, true);
	pseudo_file("/proc/self/status", 16, false);
	pseudo_file("/sys/devices/system/cpu/online", 1, true);
	pseudo_file("/sys/kernel/mm/transparent_hugepage/enabled", 2, true);

	section("directory opened O_RDONLY");
	fd = open(data_dir, O_RDONLY);
	if (fd < 0)
		die("open the data directory");
	many_reads(fd, "dir", 100, 5);
	DO(-1, buf, pread(fd, buf, 100, 0), "pread(dir, 100, 0)");
	DOV(-1, iov, 2, readv(fd, iov, 2), "readv(dir, 7+9)");
	DO(-1, NULL, lseek(fd, 0, SEEK_CUR), "lseek(dir, 0, SEEK_CUR)");
	DO(-1, buf, read(fd, buf, 0), "read(dir, 0)");
	close(fd);
	fd = open(data_dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die("open the data directory with O_DIRECTORY");
	many_reads(fd, "dir O_DIRECTORY", 100, 4);
	close(fd);

	section("empty regular file");
	fd = open_ro("empty");
	many_reads(fd, "empty", 100, 5);
	DO(fd, buf, pread(fd, buf, 100, 0), "pread(empty, 100, 0)");
	DO(fd, NULL, lseek(fd, 0, SEEK_END), "lseek(empty, 0, SEEK_END)");
	close(fd);

	section("regular file opened O_WRONLY and O_PATH");
	fd = open(dpath("regular"), O_WRONLY);
	if (fd < 0)
		die("open regular O_WRONLY");
	many_reads(fd, "O_WRONLY", 1000, 8);
	DO(-1, buf, pread(fd, buf, 20, 0), "pread(O_WRONLY, 20, 0)");
	DO(fd, NULL, lseek(fd, 5, SEEK_SET), "lseek(O_WRONLY, 5, SEEK_SET)");
	close(fd);
	fd = open(dpath("regular"), O_PATH);
	if (fd < 0)
		die("open regular O_PATH");
	many_reads(fd, "O_PATH", 1000, 4);
	DO(-1, buf, pread(fd, buf, 10, 0), "pread(O_PATH, 10, 0)");
	DO(-1, NULL, lseek(fd, 0, SEEK_CUR), "lseek(O_PATH, 0, SEEK_CUR)");
	close(fd);

	get_stats(&after);
	preload_check("nonregular: nothing above was served from a mapping",
		      served_total(&after) == served_total(&before) &&
			      after.files_mapped == before.files_mapped &&
			      after.lseeks_served == before.lseeks_served);

	section("regular files, for contrast");
	fd = open_ro("regular");
	many_reads(fd, "regular", 1000, 10);
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "lseek(regular, 0, SEEK_CUR)");
	close(fd);
	/* Served as well; its write goes to the kernel at the right offset. */
	fd = open(dpath("regular"), O_RDWR);
	if (fd < 0)
		die("open regular O_RDWR");
	many_reads(fd, "O_RDWR", 1000, 8);
	DO(fd, NULL, lseek(fd, -10, SEEK_CUR), "lseek(O_RDWR, -10, SEEK_CUR)");
	DO(-1, NULL, write(fd, "XYZ", 3), "write(O_RDWR, XYZ)");
	DO(fd, buf, pread(fd, buf, 20, 7985), "pread(O_RDWR, 20, 7985)");
	many_reads(fd, "O_RDWR", 1000, 2);
	close(fd);
	return 0;
}
