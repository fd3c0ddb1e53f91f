/*
 * Process boundaries.
 *
 * After fork the parent and the child share every open file description,
 * and after exec the new image reads from the kernel's offset. An offset
 * kept in user space would then be a private copy that diverges, so before
 * a child or a new image exists every offset mmapread holds is written back
 * and those descriptions pass through to the kernel from then on.
 */
#ifndef MR_PROCESS_H
#define MR_PROCESS_H

/* Before fork, vfork, _Fork, posix_spawn, system and popen. */
void mr_before_child(void);

/* After fork, _Fork, daemon or forkpty, in the parent (success or not). */
void mr_after_child_in_parent(void);

/*
 * Around posix_spawn, system and popen, whose child execs inside libc: the
 * new image must inherit the program's ignored SIGBUS/SIGSEGV, not our
 * handler (which exec would turn into SIG_DFL).
 */
void mr_before_spawn(void);
void mr_after_spawn(void);

/* Before vfork: as before any child, and the child keeps out of the table
 * it shares with us. */
void mr_before_vfork(void);

/* In the child of fork or _Fork. */
void mr_after_fork_in_child(void);

/* Before every exec: as above, and the report of the image about to go. */
void mr_before_exec(void);

/* _exit and _Exit skip the exit handlers: the report is written here. */
void mr_before__exit(void);

/* When an exec returned (it failed): the process goes on. */
void mr_after_failed_exec(void);

#endif
