/*
 * The two entry points of libgcc's unwinder that -fexceptions code calls
 * (the personality routine, which runs cleanup handlers, and
 * _Unwind_Resume, which goes on unwinding after one), bound on first use
 * instead of by linking libgcc_s.
 *
 * Linking it made every process load a second library: with its
 * constructor's CPUID instructions (each one a trip to the hypervisor in a
 * VM) that was 0.12 ms of the 0.19 ms mmapread added to a `tail -n 1`
 * here. Both functions are only ever called while a thread unwinds through
 * mmapread's frames, that is when it is cancelled or calls pthread_exit(),
 * and glibc has loaded libgcc_s for that unwind itself by then: binding is
 * finding the loaded copy. pthread_cancel() binds ahead (mr_unwind_bind()),
 * in the cancelling thread as glibc does, so that a thread cancelled in a
 * signal handler need not open a library.
 */
#include "mr_unwind.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * The Itanium C++ ABI's types, which the x86-64 psABI adopts, spelt out
 * here: <unwind.h> declares both functions with default visibility and
 * they must stay hidden, or they would take libgcc_s's place in the program.
 */
typedef int _Unwind_Reason_Code;
typedef int _Unwind_Action;
typedef uint64_t _Unwind_Exception_Class;
struct _Unwind_Exception;
struct _Unwind_Context;
#define _URC_CONTINUE_UNWIND 8

typedef _Unwind_Reason_Code personality_fn(int, _Unwind_Action,
					   _Unwind_Exception_Class,
					   struct _Unwind_Exception *,
					   struct _Unwind_Context *);

static void *_Atomic real_personality;
/* Read by _Unwind_Resume below, by name. */
void *_Atomic mr_unwind_real_resume;

void mr_unwind_bind(void)
{
	void *lib;

	if (atomic_load_explicit(&mr_unwind_real_resume, memory_order_acquire))
		return;
	lib = dlopen("libgcc_s.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!lib)
		lib = dlopen("libgcc_s.so.1", RTLD_LAZY);
	if (!lib)
		return;
	/* The handle is kept: the unwinder stays in use until exit. */
	atomic_store_explicit(&real_personality,
			      dlsym(lib, "__gcc_personality_v0"),
			      memory_order_release);
	atomic_store_explicit(&mr_unwind_real_resume,
			      dlsym(lib, "_Unwind_Resume"), memory_order_release);
}

_Unwind_Reason_Code
__gcc_personality_v0(int version, _Unwind_Action actions,
		     _Unwind_Exception_Class exception_class,
		     struct _Unwind_Exception *exception,
		     struct _Unwind_Context *context);

_Unwind_Reason_Code
__gcc_personality_v0(int version, _Unwind_Action actions,
		     _Unwind_Exception_Class exception_class,
		     struct _Unwind_Exception *exception,
		     struct _Unwind_Context *context)
{
	personality_fn *fn;

	mr_unwind_bind();
	fn = (personality_fn *)atomic_load_explicit(&real_personality,
						    memory_order_acquire);
	/* No unwinder to be had: the frame's cleanups are skipped (a
	 * reference kept), which beats stopping the unwind. */
	if (!fn)
		return _URC_CONTINUE_UNWIND;
	return fn(version, actions, exception_class, exception, context);
}

/*
 * A cleanup's last act: a jump, not a call, so that the unwinder goes on
 * from the cleanup's frame as it would with libgcc_s linked. In assembly,
 * because a compiler may wrap a C body in cleanups of its own (TSan does,
 * for its function-exit hook), which would call it again, forever. Only
 * reached from a cleanup the personality routine above started, so bound.
 */
__attribute__((noreturn, used)) static void resume_unbound(void)
{
	abort();
}

__asm__(".pushsection .text\n"
	".globl _Unwind_Resume\n"
	".hidden _Unwind_Resume\n"
	".type _Unwind_Resume, @function\n"
	"_Unwind_Resume:\n"
	"	.cfi_startproc\n"
	"	mov mr_unwind_real_resume(%rip), %rax\n"
	"	test %rax, %rax\n"
	"	jz resume_unbound\n"
	"	jmp *%rax\n"
	"	.cfi_endproc\n"
	".size _Unwind_Resume, .-_Unwind_Resume\n"
	".popsection\n");
