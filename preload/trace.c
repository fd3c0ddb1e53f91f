/*
 * Call traces through libunwind (see mr_trace.h).
 *
 * libunwind is loaded with dlopen(RTLD_LOCAL) when tracing is asked for,
 * not linked: libunwind.so.8 exports its own _Unwind_RaiseException and
 * friends without symbol versions. Linked, it would sit in the global
 * scope ahead of any libgcc_s loaded later (with C++ code that a C
 * program dlopen()s), and libgcc_s's calls to its own _Unwind_* would
 * bind to libunwind's (LD_DEBUG=bindings shows it).
 * Loaded locally it serves us alone, and a program that does not trace
 * never loads it.
 *
 * What libunwind 1.6 does in the program, and a caller must know:
 * - Its first unwind opens a pipe (pipe2, O_CLOEXEC|O_NONBLOCK) that it
 *   keeps, to probe memory with read() and write() when it unwinds
 *   through a signal frame or a frame without unwind tables. If the
 *   program closes those fds (closefrom) and reuses their numbers, those
 *   probes read one byte from, and write one byte to, the program's
 *   files. mmapread's pipe2() wrapper should therefore move the fds of a
 *   pipe made while mr_trace_busy() to high numbers.
 * - Being dlopen()ed, its thread-local cache is allocated by malloc() on
 *   the first unwind of each thread; the first record of a thread must
 *   not come from a signal handler that interrupted malloc().
 * - It calls sigprocmask(), read(), write(), close() and pipe2() through
 *   the global scope, that is through mmapread's wrappers.
 *
 * The table: MR_TRACE_SLOTS slots, open addressing on a hash of the event
 * and the return addresses. A recorder claims a free slot with a CAS of
 * its key (FREE to BUSY), fills it, and publishes it with a release store
 * of the hash; the filled part never changes after that, counts are
 * relaxed atomics. Nobody waits for a BUSY slot: whoever meets one goes on
 * probing, so a signal handler that interrupts the thread filling a slot
 * cannot deadlock. The price is that one stack may occupy two slots, and
 * the report merges them.
 */
#include "mr_trace.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libunwind.h>

#include "mmapread.h"
#include "mr_out.h"
#include "mr_section.h"
#include "mr_stats.h"

/* The soname that goes with libunwind.h's ABI. */
#if UNW_VERSION_MAJOR != 1
#error "libunwind's major version changed: check LIBUNWIND_SONAME"
#endif
#define LIBUNWIND_SONAME "libunwind.so.8"

/* Room for libunwind's and mmapread's frames above the program's. */
#define RAW_FRAMES (MR_TRACE_FRAMES + 16)

/* Frames shown on a line of the text report; the JSON has them all. */
#define TEXT_FRAMES 8

#define KEY_FREE 0
#define KEY_BUSY 1

/*
 * Events: the kinds before MR_TRACE_FALLBACK, then one per fallback
 * reason, then one for a reason out of range.
 */
#define EVENTS (MR_TRACE_FALLBACK + MMAPREAD_FB_COUNT + 1)

struct trace_slot {
	_Atomic uint64_t key;     /* KEY_FREE, KEY_BUSY, or the stack's hash */
	_Atomic uint64_t count;
	/* Written once by the thread that claimed the slot. */
	uint16_t event;
	uint16_t nframes;
	uintptr_t ips[MR_TRACE_FRAMES];
};

typedef int backtrace_fn(void **buffer, int size);

_Atomic uint32_t mr_trace_mask;

static struct trace_slot slots[MR_TRACE_SLOTS] MR_LARGE_TABLE;
static _Atomic uint64_t other_stacks[EVENTS]; /* the table was full */
static _Atomic uint64_t nested;               /* dropped by the guard */

/* unw_backtrace once libunwind is loaded; own_lo/hi are set before it. */
static _Atomic(backtrace_fn *) unw_backtrace_fn;

/*
 * The addresses of the shared object mmapread lives in, whose frames no
 * report shows. Empty when the core is linked into the program itself
 * (the unit tests): the program's frames are what is under test there.
 */
static uintptr_t own_lo, own_hi;

/*
 * Set while this thread is inside libunwind or formats the report:
 * libunwind may call functions that mmapread interposes (pipe2, write,
 * read, sigprocmask), and whatever they would record is dropped.
 */
static __thread bool in_trace;

/* ---- setting up ------------------------------------------------------- */

static int find_own_object(struct dl_phdr_info *info, size_t size,
			   void *data)
{
	uintptr_t self = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (self < lo || self >= hi)
		return 0;
	if (info->dlpi_name && info->dlpi_name[0]) {
		own_lo = lo;
		own_hi = hi;
	}
	return 1;
}

static bool load_libunwind(void)
{
	void *handle, *sym, *warm[1];

	if (atomic_load_explicit(&unw_backtrace_fn, memory_order_acquire))
		return true;
	dl_iterate_phdr(find_own_object, (void *)(uintptr_t)mr_trace_record);
	handle = dlopen(LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		return false;
	sym = dlsym(handle, "unw_backtrace");
	if (!sym) {
		dlclose(handle);
		return false;
	}
	/*
	 * libunwind sets itself up on its first unwind: its pipe, its
	 * caches, and this thread's block of its thread-local storage (a
	 * malloc(), being dlopen()ed). Better here than in a hook.
	 */
	in_trace = true;
	((backtrace_fn *)sym)(warm, 1);
	in_trace = false;
	atomic_store_explicit(&unw_backtrace_fn, (backtrace_fn *)sym,
			      memory_order_release);
	return true;
}

int mr_trace_set_mask(uint32_t mask)
{
	int saved_errno = errno, ret = 0;

	if (mask & ~MR_TRACE_ALL)
		return -EINVAL;
	if (mask && !load_libunwind()) {
		mask = 0;
		ret = -EOPNOTSUPP;
	}
	atomic_store_explicit(&mr_trace_mask, mask, memory_order_release);
	errno = saved_errno;
	return ret;
}

/* ---- recording -------------------------------------------------------- */

static unsigned int event_of(enum mr_trace_kind kind, int reason)
{
	if (kind != MR_TRACE_FALLBACK)
		return kind;
	if (reason < 0 || reason >= MMAPREAD_FB_COUNT)
		reason = MMAPREAD_FB_COUNT;
	return MR_TRACE_FALLBACK + (unsigned int)reason;
}

static uint64_t stack_hash(unsigned int event, const uintptr_t *ips,
			   unsigned int n)
{
	uint64_t h = 0xcbf29ce484222325u ^ event ^ ((uint64_t)n << 32);

	for (unsigned int i = 0; i < n; i++) {
		h ^= ips[i];
		h *= 0x100000001b3u;
		h ^= h >> 29;
	}
	/* murmur3's finaliser, so that the probe start uses every bit */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	return h | 2; /* never KEY_FREE or KEY_BUSY */
}

/* Only for a slot whose key was loaded with acquire and is a hash. */
static bool same_stack(const struct trace_slot *s, unsigned int event,
		       const uintptr_t *ips, unsigned int n)
{
	return s->event == event && s->nframes == n &&
	       !memcmp(s->ips, ips, n * sizeof(ips[0]));
}

static void count_stack(unsigned int event, const uintptr_t *ips,
			unsigned int n)
{
	uint64_t key = stack_hash(event, ips, n);
	unsigned int start = (unsigned int)(key >> 32) % MR_TRACE_SLOTS;

	for (unsigned int probe = 0; probe < MR_TRACE_SLOTS; probe++) {
		struct trace_slot *s = &slots[(start + probe) % MR_TRACE_SLOTS];
		uint64_t seen = atomic_load_explicit(&s->key,
						     memory_order_acquire);

		/* A failed CAS leaves the winner's key in seen. */
		if (seen == KEY_FREE &&
		    atomic_compare_exchange_strong_explicit(
			    &s->key, &seen, KEY_BUSY, memory_order_acquire,
			    memory_order_acquire)) {
			s->event = (uint16_t)event;
			s->nframes = (uint16_t)n;
			memcpy(s->ips, ips, n * sizeof(ips[0]));
			atomic_store_explicit(&s->count, 1,
					      memory_order_relaxed);
			atomic_store_explicit(&s->key, key,
					      memory_order_release);
			return;
		}
		if (seen == key && same_stack(s, event, ips, n)) {
			atomic_fetch_add_explicit(&s->count, 1,
						  memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&other_stacks[event], 1,
				  memory_order_relaxed);
}

/*
 * noinline: the frame that called us is found by its return address, so
 * that libunwind's frames and ours are skipped whatever their number.
 */
__attribute__((noinline)) void mr_trace_record(enum mr_trace_kind kind,
					       int reason)
{
	void *caller = __builtin_return_address(0);
	void *raw[RAW_FRAMES];
	uintptr_t ips[MR_TRACE_FRAMES];
	backtrace_fn *backtrace;
	unsigned int n = 0;
	int saved_errno, got, i;

	if ((unsigned int)kind >= MR_TRACE_KINDS || !mr_trace_wants(kind))
		return;
	if (in_trace) {
		atomic_fetch_add_explicit(&nested, 1, memory_order_relaxed);
		return;
	}
	backtrace = atomic_load_explicit(&unw_backtrace_fn,
					 memory_order_acquire);
	if (!backtrace)
		return;
	saved_errno = errno;
	in_trace = true;
	got = backtrace(raw, RAW_FRAMES);
	for (i = 0; i < got && raw[i] != caller; i++)
		;
	/* Not found: the unwind failed early, counted as "no stack". */
	for (; i < got && n < MR_TRACE_FRAMES; i++) {
		uintptr_t ip = (uintptr_t)raw[i];

		if (ip >= own_lo && ip < own_hi)
			continue;
		ips[n++] = ip;
	}
	count_stack(event_of(kind, reason), ips, n);
	in_trace = false;
	errno = saved_errno;
}

bool mr_trace_busy(void)
{
	return in_trace;
}

void mr_trace_restart_in_child(void)
{
	for (unsigned int i = 0; i < MR_TRACE_SLOTS; i++)
		atomic_store_explicit(&slots[i].count, 0, memory_order_relaxed);
	for (unsigned int i = 0; i < EVENTS; i++)
		atomic_store_explicit(&other_stacks[i], 0,
				      memory_order_relaxed);
	atomic_store_explicit(&nested, 0, memory_order_relaxed);
}

/* ---- collecting for the report ---------------------------------------- */

struct entry {
	uint64_t count;
	int slot;           /* -1: the other_stacks bucket of event */
	unsigned int event;
};

/*
 * Every stack with a count, duplicates merged, most frequent first (ties
 * by event, then slot, so that the order is reproducible). Insertion
 * sort: qsort may call malloc, and there are a few hundred entries.
 */
static unsigned int collect(struct entry *e)
{
	unsigned int n = 0;

	for (int i = 0; i < MR_TRACE_SLOTS; i++) {
		const struct trace_slot *s = &slots[i];
		uint64_t key = atomic_load_explicit(&s->key,
						    memory_order_acquire);
		uint64_t count = atomic_load_explicit(&s->count,
						      memory_order_relaxed);
		unsigned int j;

		if (key <= KEY_BUSY || !count)
			continue;
		for (j = 0; j < n; j++) {
			const struct trace_slot *t = &slots[e[j].slot];

			if (atomic_load_explicit(&t->key,
						 memory_order_relaxed) == key &&
			    same_stack(t, s->event, s->ips, s->nframes))
				break;
		}
		if (j < n) {
			e[j].count += count;
			continue;
		}
		e[n++] = (struct entry){ count, i, s->event };
	}
	for (unsigned int ev = 0; ev < EVENTS; ev++) {
		uint64_t count = atomic_load_explicit(&other_stacks[ev],
						      memory_order_relaxed);

		if (count)
			e[n++] = (struct entry){ count, -1, ev };
	}
	for (unsigned int i = 1; i < n; i++) {
		struct entry x = e[i];
		unsigned int j = i;

		for (; j > 0; j--) {
			const struct entry *y = &e[j - 1];

			if (y->count > x.count ||
			    (y->count == x.count &&
			     (y->event < x.event ||
			      (y->event == x.event && y->slot < x.slot))))
				break;
			e[j] = e[j - 1];
		}
		e[j] = x;
	}
	return n;
}

static const char *event_name(unsigned int event, char *buf, size_t cap)
{
	static const char *const kinds[] = {
		[MR_TRACE_MAP] = "map",
		[MR_TRACE_SIGBUS] = "sigbus",
		[MR_TRACE_READ] = "read",
	};
	const char *name;

	if (event < MR_TRACE_FALLBACK)
		return kinds[event];
	name = mr_stats_fallback_name((int)(event - MR_TRACE_FALLBACK));
	snprintf(buf, cap, "fallback:%s", name ? name : "unknown");
	return buf;
}

/* ---- names, looked up at report time --------------------------------- */

/* An ELF file mapped for its symbol table, for one report. */
struct elf_image {
	const struct link_map *map;  /* NULL: unused */
	void *data;                  /* MAP_FAILED: could not be read */
	size_t size;
	const ElfW(Sym) *syms;
	size_t nsyms;
	const char *strs;
	size_t strs_size;
};

#define IMAGES 4

struct resolver {
	struct elf_image images[IMAGES];
	unsigned int next;           /* the image to replace next */
	char exe[PATH_MAX];          /* the main program's path, or "" */
};

struct frame {
	uintptr_t ip;
	const char *function;        /* NULL: unknown */
	uintptr_t offset;
	const char *object;          /* NULL: unknown */
	char function_buf[256];
};

/* The symbol table, or else the dynamic one, of a mapped ELF file. */
static void elf_find_symbols(struct elf_image *img)
{
	const unsigned char *base = img->data;
	const ElfW(Ehdr) *eh = img->data;
	const ElfW(Shdr) *sh, *chosen = NULL, *strsec;

	if (img->size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(*sh) || eh->e_shoff > img->size ||
	    eh->e_shnum > (img->size - eh->e_shoff) / sizeof(*sh))
		return;
	sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_SYMTAB ||
		    (sh[i].sh_type == SHT_DYNSYM && !chosen))
			chosen = &sh[i];
	}
	if (!chosen || chosen->sh_link >= eh->e_shnum)
		return;
	strsec = &sh[chosen->sh_link];
	if (chosen->sh_offset > img->size ||
	    chosen->sh_size > img->size - chosen->sh_offset ||
	    strsec->sh_offset > img->size ||
	    strsec->sh_size > img->size - strsec->sh_offset)
		return;
	img->syms = (const ElfW(Sym) *)(base + chosen->sh_offset);
	img->nsyms = chosen->sh_size / sizeof(ElfW(Sym));
	img->strs = (const char *)(base + strsec->sh_offset);
	img->strs_size = strsec->sh_size;
}

/*
 * The file behind map, mapped. Raw system calls: open() and close() are
 * mmapread's own wrappers, and this fd must stay out of its table.
 */
static struct elf_image *elf_image(struct resolver *r,
				   const struct link_map *map,
				   const char *path)
{
	struct elf_image *img;
	struct stat st;
	long fd;

	for (unsigned int i = 0; i < IMAGES; i++) {
		if (r->images[i].map == map)
			return &r->images[i];
	}
	img = &r->images[r->next];
	r->next = (r->next + 1) % IMAGES;
	if (img->map && img->data != MAP_FAILED)
		munmap(img->data, img->size);
	*img = (struct elf_image){ .map = map, .data = MAP_FAILED };
	fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return img;
	if (syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > 0) {
		img->size = (size_t)st.st_size;
		img->data = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE,
				 (int)fd, 0);
	}
	syscall(SYS_close, fd);
	if (img->data != MAP_FAILED)
		elf_find_symbols(img);
	return img;
}

static void resolver_done(struct resolver *r)
{
	for (unsigned int i = 0; i < IMAGES; i++) {
		if (r->images[i].map && r->images[i].data != MAP_FAILED)
			munmap(r->images[i].data, r->images[i].size);
	}
}

/* The function around addr (an address as the file has it), if any. */
static const char *elf_lookup(const struct elf_image *img, uintptr_t addr,
			      uintptr_t *ret_start)
{
	for (size_t i = 0; i < img->nsyms; i++) {
		const ElfW(Sym) *sym = &img->syms[i];
		int type = ELF64_ST_TYPE(sym->st_info);

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    sym->st_shndx == SHN_UNDEF || addr < sym->st_value ||
		    addr - sym->st_value >= sym->st_size ||
		    sym->st_name >= img->strs_size ||
		    !memchr(img->strs + sym->st_name, '\0',
			    img->strs_size - sym->st_name))
			continue;
		*ret_start = sym->st_value;
		return img->strs + sym->st_name;
	}
	return NULL;
}

/*
 * Name the frame at ip: dladdr for exported functions, the file's symbol
 * table for the others (static functions, and every function of a
 * program not linked with -rdynamic); unknown stays NULL.
 */
static void resolve(struct resolver *r, uintptr_t ip, struct frame *f)
{
	/* A return address: the call is the byte before it, and when it
	 * ends a function ip is already the next one. */
	uintptr_t look = ip ? ip - 1 : 0;
	const ElfW(Sym) *sym = NULL;
	struct link_map *map = NULL;
	const struct elf_image *img;
	const char *name;
	uintptr_t start;
	Dl_info info;

	*f = (struct frame){ .ip = ip };
	if (!dladdr1((void *)look, &info, (void **)&map, RTLD_DL_LINKMAP) ||
	    !map)
		return;
	f->object = map->l_name && map->l_name[0] ? map->l_name
		    : r->exe[0]                  ? r->exe
						 : NULL;
	f->offset = ip - map->l_addr;
	if (dladdr1((void *)look, &info, (void **)&sym, RTLD_DL_SYMENT) &&
	    info.dli_sname && sym && (uintptr_t)info.dli_saddr <= look &&
	    look - (uintptr_t)info.dli_saddr < sym->st_size) {
		name = info.dli_sname;
		start = (uintptr_t)info.dli_saddr;
	} else if (f->object) {
		img = elf_image(r, map, f->object);
		name = elf_lookup(img, look - map->l_addr, &start);
		start += map->l_addr;
	} else {
		name = NULL;
	}
	if (!name)
		return;
	snprintf(f->function_buf, sizeof(f->function_buf), "%s", name);
	f->function = f->function_buf;
	f->offset = ip - start;
}

static void resolver_init(struct resolver *r)
{
	long n;

	memset(r->images, 0, sizeof(r->images));
	r->next = 0;
	n = syscall(SYS_readlink, "/proc/self/exe", r->exe,
		    sizeof(r->exe) - 1);
	r->exe[n > 0 ? n : 0] = '\0';
}

/* ---- formatting ------------------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The words of MMAPREAD_TRACE that give this mask. */
static void put_mask(struct mr_out *out, uint32_t mask)
{
	static const char *const words[] = {
		[MR_TRACE_MAP] = "map",
		[MR_TRACE_SIGBUS] = "sigbus",
		[MR_TRACE_READ] = "read",
		[MR_TRACE_FALLBACK] = "fallback",
	};
	const char *sep = "";

	if (mask == MR_TRACE_ALL) {
		mr_put(out, "all");
		return;
	}
	for (unsigned int k = 0; k < MR_TRACE_KINDS; k++) {
		if (mask & (1u << k)) {
			mr_put(out, "%s%s", sep, words[k]);
			sep = ",";
		}
	}
}

/* Space for collect(): every slot and every other_stacks bucket. */
#define ENTRIES (MR_TRACE_SLOTS + EVENTS)

size_t mr_trace_format_text(char *buf, size_t cap, unsigned int max_entries)
{
	uint32_t mask = atomic_load_explicit(&mr_trace_mask,
					     memory_order_relaxed);
	struct mr_out out = { buf, cap, 0 };
	bool was_in_trace = in_trace;
	struct entry e[ENTRIES];
	struct resolver r;
	unsigned int n, shown;
	uint64_t rest = 0;
	char name[64];

	if (cap)
		buf[0] = '\0';
	if (!mask)
		return 0;
	in_trace = true;
	resolver_init(&r);
	n = collect(e);
	shown = max_entries && max_entries < n ? max_entries : n;
	mr_put(&out, "mmapread: call sites (MMAPREAD_TRACE=");
	put_mask(&out, mask);
	mr_put(&out, ")\n");
	if (!n)
		mr_put(&out, "mmapread:   no events recorded\n");
	for (unsigned int i = 0; i < shown; i++) {
		const struct trace_slot *s = e[i].slot < 0 ? NULL
							    : &slots[e[i].slot];

		mr_put(&out, "mmapread:   %llu x %s  at ",
		    (unsigned long long)e[i].count,
		    event_name(e[i].event, name, sizeof(name)));
		if (!s)
			mr_put(&out, "(other stacks: table full)");
		else if (!s->nframes)
			mr_put(&out, "(no stack)");
		for (unsigned int k = 0; s && k < s->nframes; k++) {
			struct frame f;

			if (k == TEXT_FRAMES) {
				mr_put(&out, " <- ...");
				break;
			}
			resolve(&r, s->ips[k], &f);
			mr_put(&out, "%s", k ? " <- " : "");
			if (f.function && f.object)
				mr_put(&out, "%s+0x%lx (%s)", f.function,
				    (unsigned long)f.offset,
				    base_name(f.object));
			else if (f.function)
				mr_put(&out, "%s+0x%lx", f.function,
				    (unsigned long)f.offset);
			else if (f.object)
				mr_put(&out, "%s+0x%lx", base_name(f.object),
				    (unsigned long)f.offset);
			else
				mr_put(&out, "0x%lx", (unsigned long)f.ip);
		}
		mr_put(&out, "\n");
	}
	for (unsigned int i = shown; i < n; i++)
		rest += e[i].count;
	if (shown < n)
		mr_put(&out, "mmapread:   %u more stacks, %llu events\n",
		    n - shown, (unsigned long long)rest);
	if (atomic_load_explicit(&nested, memory_order_relaxed))
		mr_put(&out, "mmapread:   %llu events not traced (raised inside "
			  "the tracer)\n",
		    (unsigned long long)atomic_load_explicit(
			    &nested, memory_order_relaxed));
	resolver_done(&r);
	in_trace = was_in_trace;
	return out.len;
}

size_t mr_trace_format_json(char *buf, size_t cap, unsigned int max_entries)
{
	uint32_t mask = atomic_load_explicit(&mr_trace_mask,
					     memory_order_relaxed);
	struct mr_out out = { buf, cap, 0 };
	bool was_in_trace = in_trace;
	struct entry e[ENTRIES];
	struct resolver r;
	unsigned int n;
	char name[64];

	if (cap)
		buf[0] = '\0';
	if (!mask)
		return 0;
	in_trace = true;
	resolver_init(&r);
	n = collect(e);
	if (max_entries && max_entries < n)
		n = max_entries;
	mr_put(&out, "[");
	for (unsigned int i = 0; i < n; i++) {
		const struct trace_slot *s = e[i].slot < 0 ? NULL
							    : &slots[e[i].slot];

		mr_put(&out, "%s\n  {\"event\": ", i ? "," : "");
		mr_put_json_string(&out, event_name(e[i].event, name,
						 sizeof(name)));
		mr_put(&out, ", \"count\": %llu, \"frames\": [",
		    (unsigned long long)e[i].count);
		for (unsigned int k = 0; s && k < s->nframes; k++) {
			struct frame f;

			resolve(&r, s->ips[k], &f);
			mr_put(&out, "%s{\"ip\": \"0x%lx\", \"function\": ",
			    k ? ", " : "", (unsigned long)f.ip);
			mr_put_json_string(&out, f.function);
			if (f.function || f.object)
				mr_put(&out, ", \"offset\": %lu, \"object\": ",
				    (unsigned long)f.offset);
			else
				mr_put(&out, ", \"offset\": null, \"object\": ");
			mr_put_json_string(&out, f.object);
			mr_put(&out, "}");
		}
		mr_put(&out, "]}");
	}
	mr_put(&out, "%s]", n ? "\n " : "");
	resolver_done(&r);
	in_trace = was_in_trace;
	return out.len;
}
