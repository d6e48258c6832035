/* All-or-nothing output files: write a temporary file beside the target,
 * fsync, rename over it; on any failure the temporary file is removed. */
#ifndef RUNM_MKIMAGE_OUTFILE_H
#define RUNM_MKIMAGE_OUTFILE_H

#include "error.h"

struct mk_outfile {
  char *path; /* final name */
  char *tmp;  /* temporary name in the same directory, NULL once renamed */
  int fd;
};

#define MK_OUTFILE_INIT {.path = NULL, .tmp = NULL, .fd = -1}

int mk_outfile_open(struct mk_outfile *o, const char *path, runm_error_t *err);
/* fsync, close and rename into place. */
int mk_outfile_commit(struct mk_outfile *o, runm_error_t *err);
/* Removes the temporary file unless committed; frees everything. */
void mk_outfile_release(struct mk_outfile *o);
#define cleanup_outfile __attribute__((cleanup(mk_outfile_release)))

#endif
