/*
 * cancel: threads cancelled inside read() on descriptions mmapread tracks.
 *
 * read() and readv() are cancellation points: a thread blocked in one can
 * be cancelled, and one with a cancellation pending is cancelled on entry,
 * before anything is read. mmapread holds a reference to the description
 * (and, while watching, a mark that delays the mapping decision) across
 * the real call; a cancelled thread must not leak them:
 *  - blocked in read() or readv() on a FIFO (tracked, never mapped), the
 *    thread is cancelled; the FIFO closes; a file opened afterwards on the
 *    same fd number is mapped as usual;
 *  - cancelled on entry to a read() of a regular file mmapread is still
 *    watching, the offset does not move, and the main thread's small reads
 *    of the same description go on to map it;
 *  - cancelled on entry to a read() at the end of a mapped file (which
 *    the kernel must answer), the offset does not move; once the fd is
 *    closed and the file unlinked, no mapping of it is left in
 *    /proc/self/maps.
 */
#include "common.h"

#include <pthread.h>

#define DATA_SIZE (400 * 1024)

static char buf[1 << 20];
static int fd = -1;
static bool use_readv;

static void *blocked_reader(void *arg)
{
	struct iovec iov = { buf, 100 };

	(void)arg;
	if (use_readv)
		readv(fd, &iov, 1);
	else
		read(fd, buf, 100);
	printf("BLOCKED READER RETURNED\n");
	return NULL;
}

/* Cancel itself, then read count bytes: cancelled on entry to read(). */
static void *pending_reader(void *arg)
{
	size_t count = (size_t)(uintptr_t)arg;

	pthread_cancel(pthread_self());
	read(fd, buf, count);
	printf("the read returned in the thread\n");
	return NULL;
}

static void join(pthread_t thread)
{
	void *ret;

	if (pthread_join(thread, &ret) != 0)
		die("pthread_join");
	printf("thread %s\n", ret == PTHREAD_CANCELED ? "cancelled" : "returned");
}

static int mappings_of(const char *name)
{
	char line[8192], want[4200];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		die("open /proc/self/maps");
	snprintf(want, sizeof(want), "%s", dpath(name));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			n++;
	fclose(f);
	return n;
}

static void fifo_case(bool vector)
{
	struct mmapread_stats before, after;
	pthread_t thread;
	int writer, number;

	use_readv = vector;
	fd = open(dpath("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("open fifo");
	writer = open(dpath("fifo"), O_WRONLY | O_CLOEXEC);
	if (writer < 0 || fcntl(fd, F_SETFL, 0) != 0)
		die("open the fifo's writer");
	number = fd;
	if (pthread_create(&thread, NULL, blocked_reader, NULL) != 0)
		die("pthread_create");
	usleep(50000); /* blocked by then, or cancelled on entry: the same */
	DO(-1, NULL, pthread_cancel(thread), "pthread_cancel(reader blocked in %s)",
	   vector ? "readv" : "read");
	join(thread);
	DO(-1, NULL, close(fd), "close(fifo)");
	DO(-1, NULL, close(writer), "close(fifo writer)");

	get_stats(&before);
	fd = open_ro("data");
	printf("the next file got the fifo's fd number: %s\n",
	       fd == number ? "yes" : "no");
	for (int i = 0; i < 6; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	get_stats(&after);
	preload_check("cancel: a file opened after the fifo is mapped",
		      after.files_mapped > before.files_mapped);
	close(fd);
}

int main(int argc, char **argv)
{
	struct mmapread_stats before, after;
	pthread_t thread;

	setup(argc, argv);
	make_file("data", DATA_SIZE, 91);
	make_file("mapped", DATA_SIZE, 92);
	if (mkfifo(dpath("fifo"), 0600) != 0)
		die("mkfifo");

	section("a thread blocked in read() on a FIFO");
	fifo_case(false);
	section("a thread blocked in readv() on a FIFO");
	fifo_case(true);

	section("cancelled on entry to read() of a watched file");
	get_stats(&before);
	fd = open_ro("data");
	DO(fd, buf, read(fd, buf, 100), "read(100)");
	if (pthread_create(&thread, NULL, pending_reader, (void *)(uintptr_t)100) != 0)
		die("pthread_create");
	join(thread);
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "lseek(0, SEEK_CUR)");
	for (int i = 0; i < 6; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	get_stats(&after);
	preload_check("cancel: the watched file is mapped afterwards",
		      after.files_mapped > before.files_mapped &&
			      after.reads_served > before.reads_served);
	close(fd);

	section("cancelled on entry to a read() at the end of a mapped file");
	get_stats(&before);
	fd = open_ro("mapped");
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	get_stats(&after);
	preload_check("cancel: the file is mapped before the thread starts",
		      after.files_mapped > before.files_mapped &&
			      after.reads_served > before.reads_served);
	preload_check("cancel: /proc/self/maps shows the mapping",
		      mappings_of("mapped") > 0);
	DO(fd, NULL, lseek(fd, DATA_SIZE, SEEK_SET), "lseek(size, SEEK_SET)");
	if (pthread_create(&thread, NULL, pending_reader, (void *)(uintptr_t)100) != 0)
		die("pthread_create");
	join(thread);
	DO(fd, NULL, lseek(fd, 0, SEEK_CUR), "lseek(0, SEEK_CUR)");
	DO(fd, buf, pread(fd, buf, 100, 1000), "pread(100, 1000)");
	close(fd);
	unlink(dpath("mapped"));
	printf("mappings of the file after close and unlink: %d\n",
	       mappings_of("mapped"));
	return 0;
}
