/*
 * Cancellation cleanups without linking libgcc_s (see unwind.c).
 */
#ifndef MR_UNWIND_H
#define MR_UNWIND_H

/* Find libgcc_s's unwinder, which glibc loads to cancel a thread: called
 * where pthread_cancel() is, so that no signal handler has to. */
void mr_unwind_bind(void);

#endif
