/* Whole files for the C test programs. */
#ifndef HSM_TESTS_FILES_H
#define HSM_TESTS_FILES_H

#include <stddef.h>

/* A regular file's bytes, malloc'd and NUL-terminated (so a text file is a
 * string); |*len| excludes the NUL. NULL when it cannot be read. */
unsigned char *test_read_file(const char *path, size_t *len);

#endif
