/*
 * thr_dup2: one thread gives an fd to another description with dup2() or
 * dup3() while another thread reads it.
 *
 * thr_close.c with THR_CLOSE_DUP2 (see there): the reader must get the
 * first file's records in order, then the other file's from that
 * description's own offset (0), never anything else. Both descriptions
 * are mapped, so the other one's offset lives in user space while the
 * kernel's copy is stale; a read that reaches the kernel around the
 * switch must not use it. The race is narrow, hence the many rounds.
 */
#define THR_CLOSE_DUP2
#include "thr_close.c"
