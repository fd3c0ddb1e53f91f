/*
 * lifecycle: reads at every moment of a process's start-up and tear-down.
 *
 * A preload cannot choose when it is called: other libraries' constructors
 * may read files before its own constructor has run, and destructors and
 * exit handlers may read files after it printed its report. Every call must
 * work then as at any other time, and a successful one must leave errno
 * alone. The program links lifecycle_lib.so, which reads a 4 KiB file in
 * 16-byte reads (mapped after three) and checks lseek, pread, readv and
 * close, from its constructor, its destructor and an exit handler that
 * its constructor registers; the program does the same from main, from
 * its own exit handler and from its own destructor. Before each call errno
 * is set to a canary, and every line says how many successful calls
 * changed it (never any, natively).
 *
 * The order, as LD_DEBUG=libs shows it with glibc 2.36 (checked by hand):
 * with LD_PRELOAD=libmmapread.so, a library the program links runs its
 * constructor before mmapread's (the libraries the program needs are
 * initialized before the preloaded ones) and its destructor, then the
 * exit handler its constructor registered, after mmapread's destructor,
 * which prints the report. The other order comes from listing the
 * library before mmapread in LD_PRELOAD: then mmapread's constructor runs
 * first and its destructor last. run-compare has no way to say that, so
 * the program runs itself again with LD_PRELOAD so ("second"). Under the
 * preload, with MMAPREAD_STATS=1 (the test sets it), the library's
 * constructor checks which order it got: mmapread's constructor leaves a
 * duplicate of stderr at fd 1000.
 *
 * The program also maps a file in main and leaves it open: the library's
 * destructor and exit handler read on from it, after the report.
 *
 * A third image ("quick") reads a file whose description it inherited
 * from the first, which had it mapped, and ends with _exit(): no exit
 * handler, no destructor, no report; the first image then reads on from
 * where it stopped.
 */
#include "common.h"

#include "lifecycle_lib.h"

#define SHARED_RECORDS 4096u

static void main_at_exit(void)
{
	lifecycle_read("the program's exit handler", "main-data");
}

__attribute__((destructor)) static void main_destructor(void)
{
	if (data_dir)
		lifecycle_read("the program's destructor", "main-data");
}

/*
 * LD_PRELOAD with this program's library inserted before mmapread (or at
 * the end, natively); entries may be separated by spaces or colons.
 */
static char *preload_with_lib(void)
{
	static char out[8192];
	const char *lib = lifecycle_lib_path(), *now = getenv("LD_PRELOAD");
	char copy[8192], *save = NULL, *entry;
	bool placed = false;

	if (!lib)
		die("the library's path");
	snprintf(copy, sizeof(copy), "%s", now ? now : "");
	out[0] = '\0';
	for (entry = strtok_r(copy, " :", &save); entry;
	     entry = strtok_r(NULL, " :", &save)) {
		if (!placed && strstr(entry, "libmmapread")) {
			strcat(out, lib);
			strcat(out, " ");
			placed = true;
		}
		strcat(out, entry);
		strcat(out, " ");
	}
	if (!placed)
		strcat(out, lib);
	return out;
}

/* A file mapped now that the library reads on from when the end comes. */
static void keep_mapped(void)
{
	uint32_t v;
	int fd;

	make_records("kept", SHARED_RECORDS);
	fd = open_ro("kept");
	for (int i = 0; i < 5; i++)
		DO(fd, &v, read(fd, &v, sizeof(v)), "kept: read(4)");
	lifecycle_keep(fd, 5);
}

/* Run this program again as image `which`; wait and say how it ended. */
static void run_image(const char *self, const char *which,
		      const char *ld_preload, int fd)
{
	char fd_text[16], label[64];
	char *args[] = { (char *)self, (char *)data_dir, (char *)which,
			 fd_text, NULL };
	pid_t pid;

	snprintf(fd_text, sizeof(fd_text), "%d", fd);
	pid = fork_child();
	if (pid == 0) {
		if (ld_preload)
			setenv("LD_PRELOAD", ld_preload, 1);
		execv(self, args);
		_exit(127);
	}
	snprintf(label, sizeof(label), "the %s image", which);
	report_child(pid, label);
}

static void quick_image(int fd)
{
	uint32_t v;

	section("quick: reads, then _exit()");
	for (int i = 0; i < 7; i++)
		DO(fd, &v, read(fd, &v, sizeof(v)),
		   "inherited fd: read(4)");
	lifecycle_read("main", "main-data");
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *image;
	uint32_t v;
	int fd;

	setup(argc, argv);
	image = lifecycle_image();
	if (strcmp(image, "quick") == 0 && argc > 3)
		quick_image(atoi(argv[3]));
	if (strcmp(image, "first") == 0)
		make_file("main-data", LIFECYCLE_FILE_SIZE, 42);
	if (atexit(main_at_exit) != 0)
		die("atexit");

	section(image);
	lifecycle_read("main", "main-data");
	if (strcmp(image, "first") != 0) {
		keep_mapped();
		return 0;
	}

	make_records("shared", SHARED_RECORDS);
	/* Without O_CLOEXEC: the quick image reads it on. */
	fd = open(dpath("shared"), O_RDONLY);
	if (fd < 0)
		die("open shared");
	for (int i = 0; i < 5; i++)
		DO(fd, &v, read(fd, &v, sizeof(v)), "shared: read(4)");
	run_image(argv[0], "quick", NULL, fd);
	DO(fd, &v, read(fd, &v, sizeof(v)), "shared, after it: read(4)");
	close(fd);

	run_image(argv[0], "second", preload_with_lib(), -1);
	section("first: exit");
	/* After the forks, which hand every offset back to the kernel. */
	keep_mapped();
	return 0;
}
