/*
 * fd_invisible: an fd number that was closed where no preload sees it
 * comes back as something new, from a call that creates fds.
 *
 * A file is mapped on the lowest free number N, then N is closed with
 * syscall(SYS_close, N): the way libc's own closes (fclose, closedir,
 * daemon's dup2) look to a preload. N then comes back from each call that
 * creates an fd: socket, socketpair, accept, accept4, recvmsg and
 * recvmmsg with SCM_RIGHTS, pipe, pipe2, eventfd, signalfd, timerfd,
 * epoll_create, epoll_create1, inotify_init, inotify_init1, memfd_create,
 * pidfd_open, fopen, opendir, fdopendir, tmpfile, mkstemp, mkostemp,
 * shm_open, openpty, posix_openpt, mq_open, open_tree, fsopen, fspick,
 * rresvport, setmntent, popen, dup, dup2, dup3, open and openat; and
 * login_tty, which dup2s a terminal onto fds 0-2 inside libc. Each time
 * read, pread and lseek of N must answer about the new object (its data,
 * or the kernel's errno), never with bytes of the old file's mapping or
 * its offset. And a fork must not write the old file's offset back onto
 * the new object (stdio reading a FILE from fopen or setmntent would then
 * start in the middle).
 *
 * Calls that need privileges or kernel features the machine may lack
 * print what they got: the native run is the reference.
 */
#include "common.h"

#include <dirent.h>
#include <mntent.h>
#include <mqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <utmp.h>

#define DATA_SIZE (300 * 1024)

static char buf[65536];

/* Map data on the lowest free number and close it behind mmapread's back. */
static int begin(const char *what)
{
	struct mmapread_stats before, after;
	char check[200];
	int n;

	section(what);
	get_stats(&before);
	n = open_ro("data");
	for (int i = 0; i < 5; i++)
		DO(n, buf, read(n, buf, 1000), "read(N, 1000)");
	get_stats(&after);
	snprintf(check, sizeof(check), "fd_invisible: mapped before %s", what);
	preload_check(check, after.files_mapped == before.files_mapped + 1);
	if (syscall(SYS_close, n) != 0)
		die("SYS_close");
	printf("syscall(SYS_close, N)\n");
	return n;
}

/*
 * Whether the new object got N. A call the machine refuses (privileges,
 * kernel support) prints its errno in both runs; any other number means
 * the test lost track of its own fds, and the case would prove nothing.
 */
static bool same_number(const char *what, int got, int n)
{
	int err = errno;

	if (got == n) {
		printf("%s has the number N\n", what);
		return true;
	}
	if (got < 0) {
		printf("%s: %s\n", what, errname(err));
		return false;
	}
	die("%s did not get the number N", what);
}

/* The bytes a read gave, when they are text. */
static void show_text(long long got)
{
	bool text = got > 0;

	for (long long i = 0; i < got && text; i++)
		text = buf[i] == '\n' || buf[i] == '\r' ||
		       (buf[i] >= ' ' && buf[i] < 127);
	if (text)
		printf("   got \"%.*s\"\n", (int)got, buf);
}

/* What read, pread and lseek of N say now. */
static void ask(int n, size_t count)
{
	show_text(DO(-1, buf, read(n, buf, count), "read(N, %zu)", count));
	DO(-1, buf, pread(n, buf, 16, 0), "pread(N, 16, 0)");
	DO(-1, NULL, lseek(n, 0, SEEK_CUR), "lseek(N, 0, SEEK_CUR)");
}

/* A pipe-like N: data written at the other end must be what N reads. */
static void ask_stream(int n, int writer, const char *word)
{
	write_all(writer, word, strlen(word));
	ask(n, 4096);
}

static void sockets(void)
{
	int n, s, sv[2];

	n = begin("socket(AF_UNIX, SOCK_STREAM)");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	same_number("the socket", s, n);
	ask(s, 4096);
	close(s);

	n = begin("socket(AF_INET, SOCK_STREAM)");
	s = socket(AF_INET, SOCK_STREAM, 0);
	same_number("the socket", s, n);
	ask(s, 4096);
	close(s);

	n = begin("socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK)");
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	same_number("the socket", s, n);
	ask(s, 4096);
	close(s);

	n = begin("rresvport");
	{
		int port = 0;

		s = rresvport(&port);
	}
	if (same_number("the socket", s, n)) {
		ask(s, 4096);
		close(s);
	}

	n = begin("socketpair");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair");
	same_number("the first socket", sv[0], n);
	ask_stream(sv[0], sv[1], "SOCKETPAIR");
	close(sv[0]);
	close(sv[1]);
}

static void accepts(bool four)
{
	struct sockaddr_un addr;
	int lis, cli, n, got;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", dpath("sock"));
	unlink(addr.sun_path);
	lis = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lis < 0 || cli < 0 ||
	    bind(lis, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(lis, 4) != 0)
		die("listening socket");
	n = begin(four ? "accept4" : "accept");
	if (connect(cli, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("connect");
	got = four ? accept4(lis, NULL, NULL, SOCK_CLOEXEC)
		   : accept(lis, NULL, NULL);
	same_number("the accepted socket", got, n);
	ask_stream(got, cli, four ? "ACCEPT4" : "ACCEPT");
	close(got);
	close(cli);
	close(lis);
	unlink(addr.sun_path);
}

/* Pass the read end of a pipe over a socket; it must land on N. */
static void scm_rights(bool mmsg)
{
	union {
		char space[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} out, in;
	struct msghdr msg;
	struct mmsghdr mm;
	struct cmsghdr *cm;
	struct iovec iov;
	int sv[2], p[2], n, got = -1;
	char byte = 'X';

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(p, O_CLOEXEC) != 0)
		die("socketpair, pipe2");
	n = begin(mmsg ? "recvmmsg with SCM_RIGHTS"
		       : "recvmsg with SCM_RIGHTS");

	memset(&msg, 0, sizeof(msg));
	iov = (struct iovec){ &byte, 1 };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = out.space;
	msg.msg_controllen = sizeof(out.space);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
	if (sendmsg(sv[0], &msg, 0) != 1)
		die("sendmsg");

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = in.space;
	msg.msg_controllen = sizeof(in.space);
	if (mmsg) {
		memset(&mm, 0, sizeof(mm));
		mm.msg_hdr = msg;
		DO(-1, NULL, recvmmsg(sv[1], &mm, 1, 0, NULL), "recvmmsg");
		msg = mm.msg_hdr;
	} else {
		DO(-1, NULL, recvmsg(sv[1], &msg, 0), "recvmsg");
	}
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
	/* Closed only now: a lower free number would take the passed fd. */
	close(p[0]);
	same_number("the passed pipe", got, n);
	ask_stream(got, p[1], "PASSED");
	close(got);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void pipes(void)
{
	int n, p[2];

	n = begin("pipe");
	if (pipe(p) != 0)
		die("pipe");
	same_number("the read end", p[0], n);
	ask_stream(p[0], p[1], "PIPE");
	close(p[0]);
	close(p[1]);

	n = begin("pipe2");
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe2");
	same_number("the read end", p[0], n);
	ask_stream(p[0], p[1], "PIPE2");
	/* The write end took N + 1: not readable at all. */
	DO(-1, buf, read(p[1], buf, 100), "read(the write end, 100)");
	close(p[0]);
	close(p[1]);
}

static void event_fds(void)
{
	struct itimerspec its;
	struct pollfd pfd;
	sigset_t set, old;
	int n, e;

	n = begin("eventfd");
	e = eventfd(7, EFD_CLOEXEC);
	same_number("the eventfd", e, n);
	DO(-1, NULL, read(e, buf, 4), "read(N, 4)");
	ask(e, 8);
	close(e);

	n = begin("signalfd");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	e = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	same_number("the signalfd", e, n);
	if (DO(-1, NULL, read(e, buf, sizeof(struct signalfd_siginfo)),
	       "read(N, sizeof(signalfd_siginfo))") > 0)
		printf("   ssi_signo %u\n",
		       ((struct signalfd_siginfo *)buf)->ssi_signo);
	ask(e, sizeof(struct signalfd_siginfo));
	close(e);
	/* A read that did not reach the signalfd left the signal pending:
	 * take it, or unblocking it would end the program. */
	{
		struct timespec now = { 0, 0 };

		sigtimedwait(&set, NULL, &now);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

	n = begin("timerfd_create");
	e = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	same_number("the timerfd", e, n);
	ask(e, 8);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 1000;
	timerfd_settime(e, 0, &its, NULL);
	pfd = (struct pollfd){ e, POLLIN, 0 };
	poll(&pfd, 1, 5000);
	if (DO(-1, NULL, read(e, buf, 8), "read(N, 8) after it fired") == 8)
		printf("   expirations %llu\n",
		       (unsigned long long)*(uint64_t *)buf);
	close(e);

	n = begin("epoll_create");
	e = epoll_create(1);
	same_number("the epoll fd", e, n);
	ask(e, 4096);
	close(e);

	n = begin("epoll_create1");
	e = epoll_create1(EPOLL_CLOEXEC);
	same_number("the epoll fd", e, n);
	ask(e, 4096);
	close(e);
}

static void inotify_fds(void)
{
	struct inotify_event *ev = (struct inotify_event *)buf;
	long long got;
	int n, e;

	n = begin("inotify_init");
	e = inotify_init();
	same_number("the inotify fd", e, n);
	if (inotify_add_watch(e, data_dir, IN_CREATE) < 0)
		die("inotify_add_watch");
	unlink(dpath("created"));
	make_file("created", 10, 1);
	got = DO(-1, NULL, read(e, buf, 4096), "read(N, 4096)");
	if (got > 0)
		printf("   event mask %#x name \"%s\"\n", ev->mask,
		       ev->len ? ev->name : "");
	DO(-1, NULL, lseek(e, 0, SEEK_CUR), "lseek(N, 0, SEEK_CUR)");
	close(e);

	n = begin("inotify_init1");
	e = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	same_number("the inotify fd", e, n);
	ask(e, 4096);
	close(e);
}

/* A regular file N that the program wrote itself: reads from its start. */
static void ask_own_file(int n, const char *word)
{
	DO(-1, NULL, write(n, word, strlen(word)), "write(N, \"%s\")", word);
	DO(-1, NULL, lseek(n, 0, SEEK_SET), "lseek(N, 0, SEEK_SET)");
	ask(n, 4096);
}

static void files(void)
{
	char tmpl[4096];
	DIR *d;
	FILE *f;
	int n, e;

	n = begin("memfd_create");
	e = memfd_create("fd_invisible", MFD_CLOEXEC);
	same_number("the memfd", e, n);
	append_pattern(e, 0, DATA_SIZE, 99);
	DO(-1, NULL, lseek(e, 1000, SEEK_SET), "lseek(N, 1000, SEEK_SET)");
	for (int i = 0; i < 5; i++)
		DO(-1, buf, read(e, buf, 1000), "read(N, 1000)");
	ask(e, 1000);
	close(e);

	n = begin("fopen");
	f = fopen(dpath("other"), "re");
	if (!f)
		die("fopen");
	same_number("fileno(fopen())", fileno(f), n);
	for (int i = 0; i < 5; i++)
		DO(-1, buf, read(fileno(f), buf, 1000), "read(N, 1000)");
	ask(fileno(f), 1000);
	fclose(f);

	n = begin("opendir");
	d = opendir(data_dir);
	if (!d)
		die("opendir");
	same_number("dirfd(opendir())", dirfd(d), n);
	ask(dirfd(d), 4096);
	closedir(d);

	n = begin("fdopendir(open(dir))");
	e = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdopendir(e);
	if (!d)
		die("fdopendir");
	same_number("dirfd(fdopendir())", dirfd(d), n);
	ask(dirfd(d), 4096);
	closedir(d);

	n = begin("tmpfile");
	f = tmpfile();
	if (!f)
		die("tmpfile");
	same_number("fileno(tmpfile())", fileno(f), n);
	ask_own_file(fileno(f), "TMPFILE");
	fclose(f);

	n = begin("mkstemp");
	snprintf(tmpl, sizeof(tmpl), "%s", dpath("tmp-XXXXXX"));
	e = mkstemp(tmpl);
	same_number("the mkstemp fd", e, n);
	ask_own_file(e, "MKSTEMP");
	close(e);
	unlink(tmpl);

	n = begin("mkostemp");
	snprintf(tmpl, sizeof(tmpl), "%s", dpath("tmp-XXXXXX"));
	e = mkostemp(tmpl, O_CLOEXEC);
	same_number("the mkostemp fd", e, n);
	ask_own_file(e, "MKOSTEMP");
	close(e);
	unlink(tmpl);

	n = begin("shm_open");
	snprintf(tmpl, sizeof(tmpl), "/mmapread-fd_invisible-%d",
		 (int)getpid());
	e = shm_open(tmpl, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (same_number("the shm_open fd", e, n)) {
		ask_own_file(e, "SHM");
		close(e);
		shm_unlink(tmpl);
	}

	n = begin("setmntent");
	f = setmntent(dpath("other"), "r");
	if (!f)
		die("setmntent");
	same_number("fileno(setmntent())", fileno(f), n);
	ask(fileno(f), 1000);
	endmntent(f);
}

static void special_fds(void)
{
	char name[64];
	int n, e, s;
	mqd_t q;

	n = begin("pidfd_open");
	e = pidfd_open(getpid(), 0);
	if (same_number("the pidfd", e, n)) {
		ask(e, 4096);
		close(e);
	}

	n = begin("openpty");
	if (openpty(&e, &s, NULL, NULL, NULL) != 0)
		e = -1;
	if (same_number("the pty master", e, n)) {
		ask_stream(e, s, "OPENPTY\n");
		close(e);
		close(s);
	}

	n = begin("posix_openpt");
	e = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (same_number("the pty master", e, n)) {
		fcntl(e, F_SETFL, O_NONBLOCK);
		ask(e, 4096);
		close(e);
	}

	n = begin("mq_open");
	snprintf(name, sizeof(name), "/mmapread-fd_invisible-%d",
		 (int)getpid());
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, NULL);
	if (same_number("the message queue", (int)q, n)) {
		ask((int)q, 4096);
		mq_close(q);
		mq_unlink(name);
	}

	n = begin("open_tree");
	e = open_tree(AT_FDCWD, data_dir, OPEN_TREE_CLOEXEC);
	if (same_number("the open_tree fd", e, n)) {
		ask(e, 4096);
		close(e);
	}

	n = begin("fsopen");
	e = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (same_number("the fsopen fd", e, n)) {
		ask(e, 4096);
		close(e);
	}

	n = begin("fspick");
	e = fspick(AT_FDCWD, "/", FSPICK_CLOEXEC);
	if (same_number("the fspick fd", e, n)) {
		ask(e, 4096);
		close(e);
	}
}

/* popen's pipe is made inside libc, after the fork wrapper's hand-back. */
static void with_popen(void)
{
	FILE *p;
	int n;

	n = begin("popen");
	p = popen("echo POPEN", "re");
	if (!p)
		die("popen");
	same_number("fileno(popen())", fileno(p), n);
	ask(fileno(p), 4096);
	printf("pclose: %d\n", pclose(p));
}

/*
 * login_tty puts a terminal on fds 0-2 with dup2 inside libc; fd 0 was a
 * mapped file. In a child: it becomes a session leader.
 */
static void with_login_tty(void)
{
	int m, s, fd, out, ret, err;
	pid_t pid;

	section("login_tty over a mapped fd 0, in a child");
	if (openpty(&m, &s, NULL, NULL, NULL) != 0) {
		printf("openpty: %s\n", errname(errno));
		return;
	}
	pid = fork_child();
	if (pid == 0) {
		fd = open_ro("data");
		for (int i = 0; i < 5; i++)
			DO(fd, buf, read(fd, buf, 1000), "child: read(1000)");
		DO(-1, NULL, dup2(fd, 0), "child: dup2(fd, 0)");
		DO(0, buf, read(0, buf, 1000), "child: read(0, 1000)");
		/* stdout is one of the fds login_tty replaces. */
		out = fcntl(1, F_DUPFD_CLOEXEC, 10);
		ret = login_tty(s);
		err = errno;
		dup2(out, 1);
		printf("child: login_tty = %d%s%s\n", ret, ret ? " " : "",
		       ret ? errname(err) : "");
		write_all(m, "TYPED\n", 6);
		ask(0, 4096);
		fflush(stdout);
		_exit(0);
	}
	report_child(pid, "the child");
	close(m);
	close(s);
}

/*
 * A fork hands every offset mmapread holds back to the kernel: never the
 * old file's offset onto the stream that now has its number.
 */
static void stale_at_fork(bool mntent)
{
	long long got;
	pid_t pid;
	FILE *f;
	int n;

	n = begin(mntent ? "setmntent, then fork" : "fopen, then fork");
	f = mntent ? setmntent(dpath("other"), "r")
		   : fopen(dpath("other"), "re");
	if (!f)
		die("open the stream");
	same_number("the stream's fd", fileno(f), n);
	pid = fork_child();
	if (pid == 0)
		_exit(0);
	report_child(pid, "a child");
	DO(-1, NULL, lseek(fileno(f), 0, SEEK_CUR), "lseek(N, 0, SEEK_CUR)");
	got = (long long)fread(buf, 1, 100, f);
	printf("fread(100) = %lld sum=%016" PRIx64 ", ftell = %ld\n", got,
	       sum_bytes(buf, (size_t)got), ftell(f));
	if (mntent)
		endmntent(f);
	else
		fclose(f);
}

static void seen_ones(void)
{
	int n, p[2], got;

	n = begin("dup of a pipe");
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe2");
	/* The pipe took N and N + 1: free N again for dup. */
	got = fcntl(p[0], F_DUPFD_CLOEXEC, n + 10);
	close(p[0]);
	p[0] = got;
	got = dup(p[0]);
	same_number("the dup", got, n);
	ask_stream(got, p[1], "DUP");
	close(got);

	n = begin("dup2 of a pipe onto N");
	got = dup2(p[0], n);
	same_number("the dup2", got, n);
	ask_stream(got, p[1], "DUP2");
	close(got);

	n = begin("dup3 of a pipe onto N");
	got = dup3(p[0], n, O_CLOEXEC);
	same_number("the dup3", got, n);
	ask_stream(got, p[1], "DUP3");
	close(got);
	close(p[0]);
	close(p[1]);

	n = begin("open of another file");
	got = open_ro("other");
	same_number("the other file", got, n);
	for (int i = 0; i < 5; i++)
		DO(-1, buf, read(got, buf, 1000), "read(N, 1000)");
	ask(got, 1000);
	close(got);

	n = begin("openat of another file");
	got = openat(AT_FDCWD, dpath("other"), O_RDONLY | O_CLOEXEC);
	same_number("the other file", got, n);
	for (int i = 0; i < 5; i++)
		DO(-1, buf, read(got, buf, 1000), "read(N, 1000)");
	ask(got, 1000);
	close(got);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	watchdog(20);
	make_file("data", DATA_SIZE, 20);
	make_file("other", DATA_SIZE, 21);

	sockets();
	accepts(false);
	accepts(true);
	scm_rights(false);
	scm_rights(true);
	pipes();
	event_fds();
	inotify_fds();
	files();
	special_fds();
	with_popen();
	with_login_tty();
	stale_at_fork(false);
	stale_at_fork(true);
	seen_ones();
	return 0;
}
