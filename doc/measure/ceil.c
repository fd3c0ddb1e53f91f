/*
 * Raw ceiling of "serve read() by memcpy from an mmap", no mmapread involved.
 * gcc -O2 -o ceil ceil.c
 *   ./ceil prep-fresh FILE       write 512 MiB fresh from /dev/urandom (1 MiB buf), fsync
 *   ./ceil prep-readahead FILE   fadvise DONTNEED, read back with 1 MiB reads
 *   ./ceil hold FILE &           keep FILE resident (MAP_SHARED + MADV_POPULATE_READ)
 *   ./ceil layout FILE           count 4 KiB pages in large folios (/proc/kpageflags)
 *   ./ceil seq FILE ROUNDS       sequential a/b/c at all chunk sizes
 *   ./ceil rand FILE ROUNDS      random 4 KiB pread vs warm-mapping memcpy
 *   ./ceil bw FILE ROUNDS        memcpy bandwidth hot source vs streaming mapping
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define FILESZ (512UL << 20)
#define BUFSZ (1UL << 20)

static char *buf;

static void die(const char *m) { perror(m); exit(1); }

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long majflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_majflt;
}

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static long long io_read_bytes(void)
{
	char line[256];
	long long v = -1;
	FILE *f = fopen("/proc/self/io", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "read_bytes: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static inline void copy_movsb(void *d, const void *s, size_t n)
{
	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static inline void sink(void *p) { asm volatile("" : : "r"(p) : "memory"); }

/* ---- sequential ---- */
static size_t run_native(const char *file, size_t c, size_t limit)
{
	int fd = open(file, O_RDONLY);
	size_t tot = 0;
	ssize_t n;
	if (fd < 0)
		die("open");
	while (tot < limit && (n = read(fd, buf, c)) > 0)
		tot += n;
	sink(buf);
	close(fd);
	return tot;
}

/* mirrors what a served read does: bound by what is left, copy, advance */
static size_t run_mmap(const char *file, size_t c, size_t limit, int movsb)
{
	int fd = open(file, O_RDONLY);
	struct stat st;
	size_t off = 0, size;
	char *map;
	if (fd < 0)
		die("open");
	if (fstat(fd, &st))
		die("fstat");
	size = st.st_size;
	/* CEIL_POPULATE=1: MAP_POPULATE the whole file (timed) */
	map = mmap(NULL, size, PROT_READ,
		   MAP_SHARED | (getenv("CEIL_POPULATE") ? MAP_POPULATE : 0),
		   fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	if (size > limit)
		size = limit;
	while (off < size) {
		size_t n = size - off < c ? size - off : c;
		if (movsb)
			copy_movsb(buf, map + off, n);
		else
			memcpy(buf, map + off, n);
		sink(buf);
		off += n;
	}
	munmap(map, st.st_size);
	close(fd);
	return off;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double t[64];
	memcpy(t, v, n * sizeof(*v));
	qsort(t, n, sizeof(*t), cmpd);
	return n & 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double minv(double *v, int n) { double m = v[0]; for (int i = 1; i < n; i++) if (v[i] < m) m = v[i]; return m; }
static double maxv(double *v, int n) { double m = v[0]; for (int i = 1; i < n; i++) if (v[i] > m) m = v[i]; return m; }

static int redone;

/* run one variant, redo if it touched the disk */
static void measure(int v, const char *file, size_t c, size_t limit,
		    double *cpu, double *wall, long *mf)
{
	for (int tries = 0; tries < 5; tries++) {
		long mj = majflt(), mn = minflt();
		long long io = io_read_bytes();
		double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		size_t got = v == 0 ? run_native(file, c, limit)
				    : run_mmap(file, c, limit, v == 2);
		double c1 = now(CLOCK_PROCESS_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
		if (got != limit) {
			fprintf(stderr, "short: %zu\n", got);
			exit(1);
		}
		if (majflt() != mj || io_read_bytes() != io) {
			fprintf(stderr, "disk read: v=%d c=%zu, redo\n", v, c);
			redone++;
			continue;
		}
		*cpu = c1 - c0;
		*wall = w1 - w0;
		*mf = minflt() - mn;
		return;
	}
	fprintf(stderr, "gave up: disk reads persist\n");
	exit(1);
}

#define MAXR 31

static void seq(const char *file, int rounds)
{
	static const size_t sizes[] = { 1, 64, 512, 4096, 65536, 1048576 };
	const char *name[3] = { "native", "mmap-memcpy", "mmap-movsb" };
	printf("| C | bytes | variant | cpu median ns/B | cpu min-max ms | wall median ns/B | minflt | ratio cpu native/x | ratio wall native/x |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
		size_t c = sizes[si];
		size_t limit = c <= 64 ? 32UL << 20 : FILESZ;
		double cpu[3][MAXR], wall[3][MAXR];
		long mf[3][MAXR];
		/* one untimed warm-up of each */
		for (int v = 0; v < 3; v++)
			measure(v, file, c, limit, &cpu[v][0], &wall[v][0], &mf[v][0]);
		for (int r = 0; r < rounds; r++)
			for (int k = 0; k < 3; k++) {
				/* rotate the order each round */
				int v = (k + r) % 3;
				measure(v, file, c, limit, &cpu[v][r], &wall[v][r], &mf[v][r]);
			}
		double cm0 = median(cpu[0], rounds), wm0 = median(wall[0], rounds);
		for (int v = 0; v < 3; v++) {
			double cm = median(cpu[v], rounds), wm = median(wall[v], rounds);
			printf("| %zu | %zu MiB | %s | %.4f | %.1f-%.1f | %.4f | %ld | %.2f | %.2f |\n",
			       c, limit >> 20, name[v], cm * 1e9 / limit,
			       minv(cpu[v], rounds) * 1e3, maxv(cpu[v], rounds) * 1e3,
			       wm * 1e9 / limit, mf[v][rounds / 2], cm0 / cm, wm0 / wm);
		}
		fflush(stdout);
	}
	printf("runs redone for disk reads: %d\n", redone);
}

/* ---- random 4 KiB ---- */
static uint64_t rng;
static inline uint64_t xs(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define NRAND 200000

static void rnd(const char *file, int rounds)
{
	double cpu[4][MAXR], wall[4][MAXR];
	const char *name[4] = { "pread", "warm map memcpy", "warm map movsb",
				"cold map memcpy (mmap+faults timed)" };
	int fd = open(file, O_RDONLY);
	size_t pages = FILESZ / 4096;
	char *warm;
	if (fd < 0)
		die("open");
	warm = mmap(NULL, FILESZ, PROT_READ, MAP_SHARED, fd, 0);
	if (warm == MAP_FAILED)
		die("mmap");
	if (madvise(warm, FILESZ, MADV_POPULATE_READ))
		die("populate");
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < 4; k++) {
			int v = (k + r) % 4;
		again:;
			long mj = majflt();
			long long io = io_read_bytes();
			double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
			char *map = warm;
			rng = 0x9e3779b97f4a7c15ULL;
			if (v == 3) {
				map = mmap(NULL, FILESZ, PROT_READ, MAP_SHARED, fd, 0);
				if (map == MAP_FAILED)
					die("mmap");
			}
			for (int i = 0; i < NRAND; i++) {
				size_t off = (xs() % pages) * 4096;
				if (v == 0) {
					if (pread(fd, buf, 4096, off) != 4096)
						die("pread");
				} else if (v == 2) {
					copy_movsb(buf, map + off, 4096);
				} else {
					memcpy(buf, map + off, 4096);
				}
				sink(buf);
			}
			if (v == 3)
				munmap(map, FILESZ);
			double c1 = now(CLOCK_PROCESS_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
			if (majflt() != mj || io_read_bytes() != io) {
				fprintf(stderr, "disk read rand v=%d, redo\n", v);
				redone++;
				goto again;
			}
			cpu[v][r] = c1 - c0;
			wall[v][r] = w1 - w0;
		}
	printf("| variant (%d random 4 KiB reads) | cpu median ns/read | wall median ns/read | ratio cpu pread/x | ratio wall pread/x |\n", NRAND);
	printf("|---|---|---|---|---|\n");
	for (int v = 0; v < 4; v++)
		printf("| %s | %.1f | %.1f | %.2f | %.2f |\n", name[v],
		       median(cpu[v], rounds) * 1e9 / NRAND,
		       median(wall[v], rounds) * 1e9 / NRAND,
		       median(cpu[0], rounds) / median(cpu[v], rounds),
		       median(wall[0], rounds) / median(wall[v], rounds));
	printf("runs redone for disk reads: %d\n", redone);
}

/* ---- bandwidth ---- */
static void bw(const char *file, int rounds)
{
	int fd = open(file, O_RDONLY);
	char *map, *hot;
	static const size_t cs[] = { 512, 4096 };
	if (fd < 0)
		die("open");
	map = mmap(NULL, FILESZ, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	if (madvise(map, FILESZ, MADV_POPULATE_READ))
		die("populate");
	hot = aligned_alloc(4096, 32768);
	memset(hot, 1, 32768);
	printf("| chunk | source | copy | median GB/s (cpu) |\n|---|---|---|---|\n");
	for (int ci = 0; ci < 2; ci++)
		for (int src = 0; src < 2; src++)
			for (int mv = 0; mv < 2; mv++) {
				size_t c = cs[ci];
				double t[MAXR];
				for (int r = 0; r < rounds; r++) {
					double c0 = now(CLOCK_PROCESS_CPUTIME_ID);
					for (size_t off = 0; off < FILESZ; off += c) {
						const char *s = src ? map + off
								    : hot + (off & 32767);
						if (mv)
							copy_movsb(buf, s, c);
						else
							memcpy(buf, s, c);
						sink(buf);
					}
					t[r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
				}
				printf("| %zu | %s | %s | %.1f |\n", c,
				       src ? "warm mapping, streaming 512 MiB" : "hot 32 KiB (L1)",
				       mv ? "rep movsb" : "memcpy",
				       FILESZ / median(t, rounds) / 1e9);
			}
}

/* ---- prep / hold / layout ---- */
static void prep_fresh(const char *file)
{
	int in = open("/dev/urandom", O_RDONLY);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || fd < 0)
		die("open");
	for (size_t done = 0; done < FILESZ; done += BUFSZ) {
		size_t got = 0;
		while (got < BUFSZ) {
			ssize_t n = read(in, buf + got, BUFSZ - got);
			if (n <= 0)
				die("urandom");
			got += n;
		}
		if (write(fd, buf, BUFSZ) != (ssize_t)BUFSZ)
			die("write");
	}
	if (fsync(fd))
		die("fsync");
	close(fd);
	close(in);
}

static void prep_readahead(const char *file)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		die("open");
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		die("fadvise");
	while (read(fd, buf, BUFSZ) > 0)
		;
	close(fd);
}

static void hold(const char *file)
{
	int fd = open(file, O_RDONLY);
	char *map;
	if (fd < 0)
		die("open");
	map = mmap(NULL, FILESZ, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	if (madvise(map, FILESZ, MADV_POPULATE_READ))
		die("populate");
	fprintf(stderr, "holding %s, majflt %ld\n", file, majflt());
	for (;;)
		pause();
}

/* how much of the file sits in large folios: KPF_COMPOUND_HEAD 15, TAIL 16 */
static void layout(const char *file)
{
	int fd = open(file, O_RDONLY);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kf = open("/proc/kpageflags", O_RDONLY);
	size_t pages = FILESZ / 4096, big = 0, heads = 0, small = 0, absent = 0;
	char *map;
	if (fd < 0 || pm < 0 || kf < 0)
		die("open");
	map = mmap(NULL, FILESZ, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	if (madvise(map, FILESZ, MADV_POPULATE_READ))
		die("populate");
	for (size_t i = 0; i < pages; i++) {
		uint64_t e, fl;
		if (pread(pm, &e, 8, ((uintptr_t)map / 4096 + i) * 8) != 8)
			die("pagemap");
		if (!(e >> 63)) {
			absent++;
			continue;
		}
		if (pread(kf, &fl, 8, (e & ((1ULL << 55) - 1)) * 8) != 8)
			die("kpageflags");
		if (fl & (1ULL << 15))
			heads++;
		if (fl & ((1ULL << 15) | (1ULL << 16)))
			big++;
		else
			small++;
	}
	printf("layout %s: %zu pages in large folios (%zu folios, avg %.0f KiB), %zu in 4 KiB folios, %zu absent\n",
	       file, big, heads, heads ? big * 4.0 / heads : 0.0, small, absent);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see top of ceil.c\n");
		return 2;
	}
	buf = aligned_alloc(4096, BUFSZ);
	memset(buf, 0, BUFSZ);
	int rounds = argc > 3 ? atoi(argv[3]) : 7;
	if (rounds > MAXR)
		rounds = MAXR;
	if (!strcmp(argv[1], "prep-fresh"))
		prep_fresh(argv[2]);
	else if (!strcmp(argv[1], "prep-readahead"))
		prep_readahead(argv[2]);
	else if (!strcmp(argv[1], "hold"))
		hold(argv[2]);
	else if (!strcmp(argv[1], "layout"))
		layout(argv[2]);
	else if (!strcmp(argv[1], "seq"))
		seq(argv[2], rounds);
	else if (!strcmp(argv[1], "rand"))
		rnd(argv[2], rounds);
	else if (!strcmp(argv[1], "bw"))
		bw(argv[2], rounds);
	else
		return 2;
	return 0;
}
