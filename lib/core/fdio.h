/* Whole-buffer writes on file descriptors. */
#ifndef RUNM_FDIO_H
#define RUNM_FDIO_H

#include <stddef.h>

/* Writes all n bytes, retrying short writes and EINTR; -1 with errno set
 * when the fd stops taking them. */
int runm_write_all(int fd, const void *buf, size_t n);

#endif
