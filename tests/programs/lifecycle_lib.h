/*
 * lifecycle_lib: what the lifecycle program calls in its library (see
 * lifecycle.c and lifecycle_lib.c).
 */
#ifndef LIFECYCLE_LIB_H
#define LIFECYCLE_LIB_H

#include <stdint.h>

/* The size of the files the lifecycle test reads: 256 reads of 16. */
#define LIFECYCLE_FILE_SIZE 4096

/* Read data_dir/name in every way and print one line about it. */
void lifecycle_read(const char *where, const char *name);

/* Which image of the program this is: "first", "second" or "quick". */
const char *lifecycle_image(void);

/*
 * Keep fd (a records file, next record `next`): the library's destructor
 * and exit handler read on from it, and the exit handler closes it.
 */
void lifecycle_keep(int fd, uint32_t next);

/* The library's own absolute path, or NULL. */
const char *lifecycle_lib_path(void);

#endif
