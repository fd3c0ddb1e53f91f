/*
 * readfiles: open every regular file in the directories named, read it to
 * the end with a 64 KiB buffer and close it — what cp, compilers and
 * scripts do to whole small files, thousands at a time.
 *
 *   readfiles DIR...
 *
 * mmapread should leave such files alone (one or a few reads do not repay a
 * mapping) or, for big ones, pay for itself: this measures what it costs.
 * Prints the number of files and bytes read on stdout, the time on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned char buf[64 << 10];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Returns the bytes read, or -1 after saying why. */
static long long read_whole(const char *path)
{
	long long total = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto fail;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		goto fail_close;
	close(fd);
	return total;

fail_close:
	close(fd);
fail:
	fprintf(stderr, "readfiles: %s: %s\n", path, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	unsigned long long files = 0, bytes = 0;
	char path[4096];
	double start;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: readfiles DIR...\n");
		return 2;
	}
	start = now();
	for (i = 1; i < argc; i++) {
		DIR *dir = opendir(argv[i]);
		struct dirent *de;

		if (!dir) {
			fprintf(stderr, "readfiles: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		while ((de = readdir(dir))) {
			long long n;

			if (de->d_type != DT_REG)
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 de->d_name);
			n = read_whole(path);
			if (n < 0)
				return 1;
			files++;
			bytes += (unsigned long long)n;
		}
		closedir(dir);
	}
	printf("%llu files, %llu bytes\n", files, bytes);
	fprintf(stderr, "readfiles: %.3f s\n", now() - start);
	return 0;
}
