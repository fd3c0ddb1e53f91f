/*
 * stdio streams served through the read path (mr_stdio.h says what and why).
 *
 * The readers follow glibc 2.36's libio step by step (genops.c __uflow and
 * __underflow, fileops.c _IO_new_file_underflow and _IO_file_xsgetn,
 * iogetline.c, iofgets.c, iogetdelim.c, iofread.c), so that a served
 * stream is left in the state libc's own code leaves it in; only the
 * refill's read() differs: mmapread's, at the description's offset. The
 * FILE fields and flag bits used are glibc's public ABI (struct _IO_FILE,
 * libio.h), unchanged since glibc 2.1.
 */
#include "mr_stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mr_config.h"
#include "mr_core.h"
#include "mr_real.h"
#include "mr_section.h"
#include "mr_stats.h"

extern void __chk_fail(void) __attribute__((noreturn));

/* libio.h (more in mr_stdio.h) */
#define IO_UNBUFFERED 0x0002
#define IO_NO_READS 0x0004
#define IO_NO_WRITES 0x0008
#define IO_EOF_SEEN 0x0010
#define IO_LINKED 0x0080
#define IO_IN_BACKUP 0x0100
#define IO_LINE_BUF 0x0200
#define IO_CURRENTLY_PUTTING 0x0800
#define IO_FLAGS2_NOTCANCEL 2
#define IO_POS_BAD ((off64_t)-1)

/* libio's own helpers, exported for libstdc++'s old ABI. */
extern void _IO_doallocbuf(FILE *fp);
extern int _IO_switch_to_get_mode(FILE *fp);
extern void _IO_free_backup_area(FILE *fp);

FILE *_Atomic mr_stdio_streams[MR_STDIO_FDS] MR_LARGE_TABLE;

/* libc's __uflow and __underflow, for streams handed back mid-call. */
static void *real_uflow, *real_underflow;

static int call_real(void **slot, const char *name, FILE *fp)
{
	int (*fn)(FILE *) = (int (*)(FILE *))mr_real_lookup(slot, name);

	if (!fn) {
		errno = ENOSYS;
		return EOF;
	}
	return fn(fp);
}

/*
 * The FILE's flag word, read before its lock is taken (as libc reads
 * _IO_USER_LOCK) and written under it: relaxed atomic accesses, plain
 * loads and stores on x86-64, so that TSan, which sees only our side,
 * does not take them for a race.
 */
static inline int flags_of(const FILE *fp)
{
	return __atomic_load_n(&fp->_flags, __ATOMIC_RELAXED);
}

static inline void flags_set(FILE *fp, int bits)
{
	__atomic_store_n(&fp->_flags, flags_of(fp) | bits, __ATOMIC_RELAXED);
}

static inline void flags_clear(FILE *fp, int bits)
{
	__atomic_store_n(&fp->_flags, flags_of(fp) & ~bits, __ATOMIC_RELAXED);
}

/* ---- streams coming and going ------------------------------------------ */

/* "r", "rb", "re", "rce"...: reads only; 'm' is glibc's own mmap mode. */
static bool reads_only(const char *mode)
{
	if (!mode || mode[0] != 'r')
		return false;
	for (const char *c = mode + 1; *c && *c != ','; c++)
		if (*c == '+' || *c == 'm' || *c == 'c')
			return false;
	return true;
}

static bool eligible(FILE *fp, int fd)
{
	return fp && fp != stdin && fp != stdout && fp != stderr &&
	       (unsigned int)fd < MR_STDIO_FDS &&
	       !(fp->_flags2 & IO_FLAGS2_NOTCANCEL) && fp->_mode <= 0;
}

/*
 * Whether any stream was ever served: the walks at exit and in
 * fcloseall() skip the table otherwise (at exit they cost a process that
 * never served a stream two page faults and a thousand locked exchanges).
 */
static atomic_bool ever_served;

/* The stream in fd's slot, taken out of the table, or NULL. */
static FILE *take_slot(int fd)
{
	if (!atomic_load_explicit(&mr_stdio_streams[fd], memory_order_relaxed))
		return NULL;
	return atomic_exchange(&mr_stdio_streams[fd], NULL);
}

static void serve(FILE *fp, int fd)
{
	if (!atomic_load_explicit(&ever_served, memory_order_relaxed))
		atomic_store(&ever_served, true);
	__atomic_store_n(&mr_stdio_streams[fd], fp, __ATOMIC_RELEASE);
}

static void unserve(FILE *fp)
{
	FILE *expected = fp;
	int fd = fp->_fileno;

	if ((unsigned int)fd < MR_STDIO_FDS)
		atomic_compare_exchange_strong(&mr_stdio_streams[fd],
					       &expected, NULL);
}

void mr_stdio_opened(FILE *fp, const char *path, const char *mode,
		     uint64_t epoch)
{
	int fd;

	if (!fp)
		return;
	fd = fp->_fileno;
	if (mr_config()->stdio && reads_only(mode) && eligible(fp, fd) &&
	    mr_core_stdio_track(fd, path, epoch))
		serve(fp, fd);
	else
		mr_forget_fd(fd);
}

bool mr_stdio_fdopen_keeps(int fd, const char *mode)
{
	return mr_config()->stdio && reads_only(mode) &&
	       (unsigned int)fd < MR_STDIO_FDS && fd > STDERR_FILENO &&
	       mr_core_stdio_track(fd, NULL, 0);
}

void mr_stdio_fdopened(FILE *fp, int fd)
{
	if (eligible(fp, fd))
		serve(fp, fd);
	else
		mr_give_to_libc(fd);
}

void mr_stdio_before_close(FILE *fp)
{
	if (!fp || !mr_stdio_served(fp))
		return;
	unserve(fp);
	mr_core_drop_fd(fp->_fileno);
}

void mr_stdio_before_closeall(void)
{
	if (!atomic_load(&ever_served))
		return;
	for (int fd = 0; fd < MR_STDIO_FDS; fd++) {
		FILE *fp = take_slot(fd);

		if (fp)
			mr_core_drop_fd(fd);
	}
}

void mr_stdio_surrender(FILE *fp)
{
	if (!mr_stdio_served(fp))
		return;
	unserve(fp);
	mr_hand_back(fp->_fileno, MMAPREAD_FB_STDIO_CALL);
}

void mr_stdio_surrender_all(void)
{
	if (!atomic_load(&ever_served))
		return;
	for (int fd = 0; fd < MR_STDIO_FDS; fd++) {
		FILE *fp = take_slot(fd);

		if (fp)
			mr_sync_offset(fd);
	}
}

/* ---- the FILE's lock, taken as _IO_acquire_lock does ------------------- */

struct held {
	FILE *fp;
	bool locked;
};

/*
 * TSan does not see glibc's FILE lock (an internal futex): tell it what
 * the lock orders, or it takes every access under it for a race.
 */
#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
#define LOCK_ACQUIRED(fp) __tsan_acquire((fp)->_lock)
#define LOCK_RELEASING(fp) __tsan_release((fp)->_lock)
#else
#define LOCK_ACQUIRED(fp) ((void)(fp))
#define LOCK_RELEASING(fp) ((void)(fp))
#endif

static void release(struct held *h)
{
	if (h->locked) {
		LOCK_RELEASING(h->fp);
		funlockfile(h->fp);
	}
}

/* The lock, when libc would take it (mr_stdio_lock_free()). */
static bool take(FILE *fp, bool lock)
{
	if (!lock || mr_stdio_lock_free(fp))
		return false;
	flockfile(fp);
	LOCK_ACQUIRED(fp);
	return true;
}

/* Released however the scope is left, cancellation included. */
#define HOLD(fp, lock) \
	struct held held_ __attribute__((cleanup(release))) = { fp, take(fp, lock) }

/* ---- refills ----------------------------------------------------------- */

/* _IO_switch_to_main_get_area */
static void to_main_get_area(FILE *fp)
{
	char *tmp;

	flags_clear(fp, IO_IN_BACKUP);
	tmp = fp->_IO_read_end;
	fp->_IO_read_end = fp->_IO_save_end;
	fp->_IO_save_end = tmp;
	tmp = fp->_IO_read_base;
	fp->_IO_read_base = fp->_IO_save_base;
	fp->_IO_save_base = tmp;
	fp->_IO_read_ptr = fp->_IO_read_base;
}

/* _IO_SYSREAD: mmapread's read(), counted when the mapping answered. */
static ssize_t sysread(FILE *fp, void *buf, size_t n)
{
	bool served;
	ssize_t ret = mr_core_stdio_read(fp->_fileno, buf, n, &served);

	if (served)
		mr_stdio_count(MR_C_STDIO_REFILLS);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static void alloc_buffer(FILE *fp)
{
	if (fp->_IO_save_base) {
		free(fp->_IO_save_base);
		flags_clear(fp, IO_IN_BACKUP);
	}
	_IO_doallocbuf(fp);
}

/* _IO_new_file_underflow */
static int file_underflow(FILE *fp)
{
	ssize_t n;

	if (flags_of(fp) & IO_EOF_SEEN)
		return EOF;
	if (flags_of(fp) & IO_NO_READS) {
		flags_set(fp, MR_IO_ERR_SEEN);
		errno = EBADF;
		return EOF;
	}
	if (fp->_IO_read_ptr < fp->_IO_read_end)
		return *(unsigned char *)fp->_IO_read_ptr;
	if (!fp->_IO_buf_base)
		alloc_buffer(fp);
	/* libc flushes a line-buffered stdout before a line-buffered or
	 * unbuffered stream reads. */
	if ((flags_of(fp) & (IO_LINE_BUF | IO_UNBUFFERED)) &&
	    (flags_of(stdout) & (IO_LINKED | IO_NO_WRITES | IO_LINE_BUF)) ==
		    (IO_LINKED | IO_LINE_BUF))
		fflush(stdout);
	_IO_switch_to_get_mode(fp);
	fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_buf_base;
	fp->_IO_read_end = fp->_IO_buf_base;
	fp->_IO_write_base = fp->_IO_write_ptr = fp->_IO_write_end =
		fp->_IO_buf_base;
	n = sysread(fp, fp->_IO_buf_base,
		    (size_t)(fp->_IO_buf_end - fp->_IO_buf_base));
	if (n <= 0) {
		if (n == 0) {
			flags_set(fp, IO_EOF_SEEN);
		} else {
			flags_set(fp, MR_IO_ERR_SEEN);
			n = 0;
		}
	}
	fp->_IO_read_end += n;
	if (n == 0) {
		fp->_offset = IO_POS_BAD;
		return EOF;
	}
	if (fp->_offset != IO_POS_BAD)
		fp->_offset += n;
	return *(unsigned char *)fp->_IO_read_ptr;
}

/* before_refill's answer when the buffer must be refilled. */
#define REFILL (-2)

/*
 * The common head of __uflow and __underflow: REFILL, or the character (or
 * EOF) to answer. A stream handed back meanwhile, or one with markers
 * (libio's save_for_backup, not reimplemented), is libc's: *ret_real says
 * so.
 */
static int before_refill(FILE *fp, bool consume, bool *ret_real)
{
	*ret_real = false;
	/* A wide stream answers narrow reads with EOF. */
	if (fp->_mode > 0)
		return EOF;
	if (fp->_mode == 0)
		fp->_mode = -1;
	if ((flags_of(fp) & IO_CURRENTLY_PUTTING) &&
	    _IO_switch_to_get_mode(fp) == EOF)
		return EOF;
	if (fp->_IO_read_ptr < fp->_IO_read_end)
		return consume ? *(unsigned char *)fp->_IO_read_ptr++
			       : *(unsigned char *)fp->_IO_read_ptr;
	if (flags_of(fp) & IO_IN_BACKUP) {
		to_main_get_area(fp);
		if (fp->_IO_read_ptr < fp->_IO_read_end)
			return consume ? *(unsigned char *)fp->_IO_read_ptr++
				       : *(unsigned char *)fp->_IO_read_ptr;
	}
	if (fp->_markers || !mr_stdio_served(fp)) {
		mr_stdio_surrender(fp);
		*ret_real = true;
		return EOF;
	}
	if (fp->_IO_save_base)
		_IO_free_backup_area(fp);
	return REFILL;
}

int mr_stdio_uflow(FILE *fp)
{
	bool real;
	int c = before_refill(fp, true, &real);

	if (real)
		return call_real(&real_uflow, "__uflow", fp);
	if (c != REFILL)
		return c;
	if (file_underflow(fp) == EOF)
		return EOF;
	return *(unsigned char *)fp->_IO_read_ptr++;
}

int mr_stdio_underflow(FILE *fp)
{
	bool real;
	int c = before_refill(fp, false, &real);

	if (real)
		return call_real(&real_underflow, "__underflow", fp);
	if (c != REFILL)
		return c;
	return file_underflow(fp);
}

/* ---- the readers ------------------------------------------------------- */

int mr_stdio_getc(FILE *fp, bool lock)
{
	HOLD(fp, lock);

	mr_stdio_count(MR_C_STDIO_READS);
	if (fp->_IO_read_ptr < fp->_IO_read_end)
		return *(unsigned char *)fp->_IO_read_ptr++;
	return mr_stdio_uflow(fp);
}

/* _IO_getline_info with extract_delim 1 and no eof report. */
static size_t get_line(FILE *fp, char *buf, size_t n, int delim)
{
	char *ptr = buf;

	if (fp->_mode == 0)
		fp->_mode = -1;
	while (n != 0) {
		ssize_t len = fp->_IO_read_end - fp->_IO_read_ptr;

		if (len <= 0) {
			int c = mr_stdio_uflow(fp);

			if (c == EOF)
				break;
			*ptr++ = (char)c;
			if (c == delim)
				return (size_t)(ptr - buf);
			n--;
		} else {
			char *t;

			if ((size_t)len >= n)
				len = (ssize_t)n;
			t = memchr(fp->_IO_read_ptr, delim, (size_t)len);
			if (t) {
				size_t old_len = (size_t)(ptr - buf);

				len = t - fp->_IO_read_ptr + 1;
				memcpy(ptr, fp->_IO_read_ptr, (size_t)len);
				fp->_IO_read_ptr = t + 1;
				return old_len + (size_t)len;
			}
			memcpy(ptr, fp->_IO_read_ptr, (size_t)len);
			fp->_IO_read_ptr += len;
			ptr += len;
			n -= (size_t)len;
		}
	}
	return (size_t)(ptr - buf);
}

char *mr_stdio_fgets(char *buf, int n, FILE *fp, bool lock, size_t chk_size)
{
	size_t got, want = (size_t)n - 1;
	int old_error;
	char *result;

	if (n <= 0)
		return NULL;
	if (n == 1 && chk_size == SIZE_MAX) {
		buf[0] = '\0';
		return buf;
	}
	HOLD(fp, lock);
	mr_stdio_count(MR_C_STDIO_READS);
	if (want > chk_size)
		want = chk_size;
	old_error = flags_of(fp) & MR_IO_ERR_SEEN;
	flags_clear(fp, MR_IO_ERR_SEEN);
	got = get_line(fp, buf, want, '\n');
	if (got == 0 || ((flags_of(fp) & MR_IO_ERR_SEEN) && errno != EAGAIN)) {
		result = NULL;
	} else {
		if (got >= chk_size)
			__chk_fail();
		buf[got] = '\0';
		result = buf;
	}
	flags_set(fp, old_error);
	return result;
}

ssize_t mr_stdio_getdelim(char **lineptr, size_t *n, int delim, FILE *fp)
{
	ssize_t cur_len = 0, len;

	if (!lineptr || !n) {
		errno = EINVAL;
		return -1;
	}
	HOLD(fp, true);
	mr_stdio_count(MR_C_STDIO_READS);
	if (flags_of(fp) & MR_IO_ERR_SEEN)
		return -1;
	if (!*lineptr || *n == 0) {
		*n = 120;
		*lineptr = malloc(*n);
		if (!*lineptr)
			return -1;
	}
	len = fp->_IO_read_end - fp->_IO_read_ptr;
	if (len <= 0) {
		if (mr_stdio_underflow(fp) == EOF)
			return -1;
		len = fp->_IO_read_end - fp->_IO_read_ptr;
	}
	for (;;) {
		char *t = memchr(fp->_IO_read_ptr, delim, (size_t)len);
		size_t needed;

		if (t)
			len = t - fp->_IO_read_ptr + 1;
		if (len >= SSIZE_MAX - cur_len) {
			errno = EOVERFLOW;
			return -1;
		}
		/* Room for len + 1 bytes, grown as libc grows it. */
		needed = (size_t)(cur_len + len + 1);
		if (needed > *n) {
			char *grown;

			if (needed < 2 * *n)
				needed = 2 * *n;
			grown = realloc(*lineptr, needed);
			if (!grown)
				return -1;
			*lineptr = grown;
			*n = needed;
		}
		memcpy(*lineptr + cur_len, fp->_IO_read_ptr, (size_t)len);
		fp->_IO_read_ptr += len;
		cur_len += len;
		if (t || mr_stdio_underflow(fp) == EOF)
			break;
		len = fp->_IO_read_end - fp->_IO_read_ptr;
	}
	(*lineptr)[cur_len] = '\0';
	return cur_len;
}

/* _IO_file_xsgetn */
static size_t get_n(FILE *fp, char *s, size_t n)
{
	size_t want = n, have;
	ssize_t got;

	if (!fp->_IO_buf_base)
		alloc_buffer(fp);
	while (want > 0) {
		have = (size_t)(fp->_IO_read_end - fp->_IO_read_ptr);
		if (want <= have) {
			memcpy(s, fp->_IO_read_ptr, want);
			fp->_IO_read_ptr += want;
			want = 0;
			break;
		}
		if (have > 0) {
			s = mempcpy(s, fp->_IO_read_ptr, have);
			want -= have;
			fp->_IO_read_ptr += have;
		}
		if (flags_of(fp) & IO_IN_BACKUP) {
			to_main_get_area(fp);
			continue;
		}
		/* Less than a buffer: refill and copy; more: read whole
		 * blocks straight into the caller's buffer. */
		if (fp->_IO_buf_base &&
		    want < (size_t)(fp->_IO_buf_end - fp->_IO_buf_base)) {
			if (mr_stdio_underflow(fp) == EOF)
				break;
			continue;
		}
		fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_read_end =
			fp->_IO_buf_base;
		fp->_IO_write_base = fp->_IO_write_ptr = fp->_IO_buf_base;
		fp->_IO_write_end = fp->_IO_buf_base;
		got = (ssize_t)want;
		if (fp->_IO_buf_base) {
			size_t block = (size_t)(fp->_IO_buf_end -
						fp->_IO_buf_base);

			if (block >= 128)
				got -= (ssize_t)(want % block);
		}
		if (!mr_stdio_served(fp)) {
			/* Handed back meanwhile: libc's read at the
			 * kernel's offset, as _IO_SYSREAD would. */
			mr_stdio_surrender(fp);
			got = mr_real_read(fp->_fileno, s, (size_t)got);
		} else {
			got = sysread(fp, s, (size_t)got);
		}
		if (got <= 0) {
			flags_set(fp, got == 0 ? IO_EOF_SEEN : MR_IO_ERR_SEEN);
			break;
		}
		s += got;
		want -= (size_t)got;
		if (fp->_offset != IO_POS_BAD)
			fp->_offset += got;
	}
	return n - want;
}

size_t mr_stdio_fread(void *buf, size_t size, size_t count_, FILE *fp,
		      bool lock)
{
	size_t requested = size * count_, got;

	if (requested == 0)
		return 0;
	HOLD(fp, lock);
	mr_stdio_count(MR_C_STDIO_READS);
	got = get_n(fp, buf, requested);
	return requested == got ? count_ : got / size;
}

/* ---- brackets around libc's own offset calls --------------------------- */

static off_t description_offset(int fd)
{
	off_t pos = mr_lseek(fd, 0, SEEK_CUR);

	return pos < 0 ? IO_POS_BAD : pos;
}

/* Lock the stream as libc will; true if it is served. */
static bool bracket_start(FILE *fp, struct mr_stdio_bracket *b)
{
	*b = (struct mr_stdio_bracket){ .fp = fp };
	b->locked = take(fp, true);
	return mr_stdio_served(fp);
}

void mr_stdio_tell_begin(FILE *fp, struct mr_stdio_bracket *b)
{
	if (!bracket_start(fp, b) || fp->_offset != IO_POS_BAD)
		return;
	/* ftell would ask the kernel (lseek SEEK_CUR): lend the answer. */
	fp->_offset = description_offset(fp->_fileno);
	b->lent = fp->_offset != IO_POS_BAD;
}

/*
 * libc's seeks set the kernel's offset absolutely (to a block boundary,
 * then a refill, or to its cached offset), except a SEEK_CUR while it
 * caches none, which is relative to the kernel's: only then the kernel
 * must be brought up to date first.
 */
void mr_stdio_seek_begin(FILE *fp, int whence, struct mr_stdio_bracket *b)
{
	if (!bracket_start(fp, b))
		return;
	b->synced = true;
	if (whence == SEEK_CUR && fp->_offset == IO_POS_BAD)
		mr_sync_offset(fp->_fileno);
}

/*
 * _IO_new_file_sync seeks the kernel back over the unread bytes, relative
 * to where it is, and forgets the cached offset: the kernel is brought up
 * to date first, and afterwards the description is where that left it.
 */
void mr_stdio_sync_begin(FILE *fp, struct mr_stdio_bracket *b)
{
	if (!bracket_start(fp, b) || fp->_IO_read_end == fp->_IO_read_ptr)
		return;
	b->synced = true;
	mr_sync_offset(fp->_fileno);
}

void mr_stdio_bracket_end(struct mr_stdio_bracket *b, bool ok)
{
	int saved_errno = errno;
	FILE *fp = b->fp;
	off_t pos;

	if (b->lent)
		fp->_offset = IO_POS_BAD;
	if (b->synced && ok && mr_stdio_served(fp)) {
		/* Where libc left the kernel: its cached offset, if any. */
		pos = fp->_offset;
		if (pos == IO_POS_BAD)
			pos = mr_real_lseek(fp->_fileno, 0, SEEK_CUR);
		if (pos >= 0)
			mr_core_adopt_offset(fp->_fileno, pos);
	}
	release(&(struct held){ fp, b->locked });
	errno = saved_errno;
}
