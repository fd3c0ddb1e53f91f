/*
 * Where the library's large zero-initialised tables go.
 *
 * The first write to a page of .bss costs a page fault, about 3.5 us on
 * these VMs, against 0.5 us for a first read. The few small variables
 * written while the library loads should share as few pages as possible;
 * interleaved with kilobytes of tables they spread over ten. .lbss, the
 * x86-64 section for large data, which the default linker script places
 * after .bss (and which stays NOBITS: no file space), takes the tables
 * out of their way. Code reaches it as it reaches .bss.
 */
#ifndef MR_SECTION_H
#define MR_SECTION_H

#define MR_LARGE_TABLE __attribute__((section(".lbss")))

#endif
