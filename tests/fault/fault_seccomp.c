/*
 * fault_seccomp: the kernel refuses mmapread's own system calls.
 *
 * mmapread maps a file only after fstat(), fstatfs() and mmap() of its fd
 * succeed; when one fails it must give the file to the kernel for good and
 * the program must see nothing of it. These failures cannot be provoked
 * from a real file system here (nothing on this machine refuses a shared
 * read-only mapping of a regular file), and mmapread makes fstat() as a
 * raw system call, which no interposed function sees, so the program
 * installs a seccomp filter on itself, before it reads anything:
 *  - mmap(MAP_SHARED) of fd 100 fails with ENODEV (what a file system
 *    without mmap support says): fallback "mmap_failed";
 *  - fstat(101) fails with EIO: fallback "fstat_failed";
 *  - fstatfs(102) fails with EIO: mmapread cannot tell the file system,
 *    takes it for a pseudo file system: fallback "pseudo_fs";
 *  - fd 103 is left alone and must still be mapped (the filter does not
 *    stop mmapread altogether).
 * The filter is the same natively, so the program's own mmap(), fstat()
 * (the system call: glibc's fstat() is newfstatat) and fstatfs() of those
 * fds print the same failures in both runs.
 */
#include "../programs/common.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/statfs.h>

#define FD_MMAP 100
#define FD_FSTAT 101
#define FD_FSTATFS 102
#define FD_CONTROL 103
#define FILE_SIZE (64 * 1024)
#define SMALL_READS 40

#define ARG_LO(n) (offsetof(struct seccomp_data, args[n]))
#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define FAIL(err) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err))

static void install_filter(void)
{
	struct sock_filter code[] = {
		LOAD(offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		ALLOW,
		LOAD(offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fstat, 9, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fstatfs, 12, 0),
		ALLOW,
		/* mmap: fd (low word of args[4]) and MAP_SHARED in flags */
		LOAD(ARG_LO(4)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FD_MMAP, 1, 0),
		ALLOW,
		LOAD(ARG_LO(3)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED, 0, 1),
		FAIL(ENODEV),
		ALLOW,
		/* fstat */
		LOAD(ARG_LO(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FD_FSTAT, 0, 1),
		FAIL(EIO),
		ALLOW,
		/* fstatfs */
		LOAD(ARG_LO(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FD_FSTATFS, 0, 1),
		FAIL(EIO),
		ALLOW,
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		die("PR_SET_SECCOMP");
}

static char buf[4096];

/* The file named name, opened on fd number want. */
static int open_at_fd(const char *name, int want)
{
	int fd = open_ro(name);

	if (dup2(fd, want) != want)
		die("dup2 %s", name);
	close(fd);
	return want;
}

static void read_file(const char *title, int fd)
{
	struct stat st;
	struct statfs sfs;
	void *map;

	section(title);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	printf("mmap(MAP_SHARED) = %s\n",
	       map == MAP_FAILED ? errname(errno) : "a mapping");
	if (map != MAP_FAILED)
		munmap(map, 4096);
	DO(fd, NULL, syscall(SYS_fstat, fd, &st), "fstat");
	DO(fd, NULL, fstatfs(fd, &sfs), "fstatfs");
	for (int i = 0; i < SMALL_READS; i++)
		DO(fd, buf, read(fd, buf, 100), "read(100)");
	DO(fd, NULL, lseek(fd, -50, SEEK_CUR), "lseek(-50, SEEK_CUR)");
	DO(fd, buf, read(fd, buf, 100), "read(100)");
	DO(fd, buf, pread(fd, buf, 300, FILE_SIZE - 200),
	   "pread(300, end-200)");
	DO(fd, NULL, lseek(fd, FILE_SIZE - 10, SEEK_SET), "lseek(end-10)");
	DO(fd, buf, read(fd, buf, 100), "read(100) at end-10");
	DO(fd, buf, read(fd, buf, 100), "read(100) at EOF");
}

int main(int argc, char **argv)
{
	struct mmapread_stats st;
	int fd;

	setup(argc, argv);
	make_file("mmap", FILE_SIZE, 1);
	make_file("fstat", FILE_SIZE, 2);
	make_file("fstatfs", FILE_SIZE, 3);
	make_file("control", FILE_SIZE, 4);
	install_filter();
	printf("seccomp filter installed\n");

	read_file("mmap(MAP_SHARED) of fd 100 fails with ENODEV",
		  open_at_fd("mmap", FD_MMAP));
	read_file("fstat(101) fails with EIO", open_at_fd("fstat", FD_FSTAT));
	read_file("fstatfs(102) fails with EIO",
		  open_at_fd("fstatfs", FD_FSTATFS));
	read_file("fd 103, not filtered", open_at_fd("control", FD_CONTROL));

	/* The same fds again, now refused for good: the kernel's all along. */
	fd = FD_MMAP;
	DO(fd, NULL, lseek(fd, 0, SEEK_SET), "fd 100: lseek(0)");
	for (int i = 0; i < 5; i++)
		DO(fd, buf, read(fd, buf, 1000), "fd 100: read(1000)");
	for (fd = FD_MMAP; fd <= FD_CONTROL; fd++)
		DO(-1, NULL, close(fd), "close(%d)", fd);

	if (get_stats(&st)) {
		preload_check("mmap refused once",
			      st.fallbacks[MMAPREAD_FB_MMAP_FAILED] == 1);
		preload_check("fstat refused once",
			      st.fallbacks[MMAPREAD_FB_FSTAT_FAILED] == 1);
		preload_check("fstatfs refused once",
			      st.fallbacks[MMAPREAD_FB_PSEUDO_FS] == 1);
	}
	return 0;
}
