/*
 * secure_exec: a setgid program must not create the report file that its
 * environment names (MMAPREAD_STATS_FILE).
 *
 * The dynamic loader ignores LD_PRELOAD paths in a secure-execution
 * process, so the program loads mmapread itself, with dlopen() of the
 * absolute path given as argv[1]; mmapread then parses the environment as
 * it would as a preload. The program prints whether the kernel flagged it
 * AT_SECURE, reads a file in small chunks (argv[2]) so that mmapread has
 * something to report, and exits normally, which is when a report file
 * would be created. secure-exec runs it with and without the setgid bit.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[16];
	unsigned long total = 0;
	ssize_t n;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: secure_exec LIBRARY FILE\n");
		return 2;
	}
	if (!dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
	fd = open(argv[2], O_RDONLY);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (unsigned long)n;
	close(fd);
	printf("read %lu bytes\n", total);
	return 0;
}
