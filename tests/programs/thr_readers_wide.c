/*
 * thr_readers_wide: two to four threads read one mapped description with
 * readv() of 65 vectors.
 *
 * thr_readers.c with THR_READERS_WIDE (see there): mmapread serves at most
 * 64 vectors from a mapping; a longer call is asked of the kernel at the
 * offset mmapread holds, which then moves past what the kernel read. Two
 * such calls at once must still get their own records, as two readv()
 * calls of one description do in the kernel.
 */
#define THR_READERS_WIDE
#include "thr_readers.c"
