/* Runtime closure of an x86_64 ELF binary: its PT_INTERP and, recursively,
 * every DT_NEEDED library, resolved the way ld.so would. */
#ifndef RUNM_MKIMAGE_ELF_DEPS_H
#define RUNM_MKIMAGE_ELF_DEPS_H

#include "error.h"
#include "tree.h"

/* Where libraries go inside the image (the Debian multiarch directory). */
#define MK_LIB_DIR "lib/x86_64-linux-gnu"

/* Add src at dst, its interpreter at the PT_INTERP path (without the leading
 * '/'), and every library it needs at MK_LIB_DIR/<DT_NEEDED name>, copied
 * from the file the name resolves to (symlinks followed). Libraries are
 * searched in DT_RUNPATH (else DT_RPATH of the object and its loaders), then
 * /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib; like
 * ld.so, a candidate of another ELF class or machine is skipped, and a name
 * already in the image is not searched again. LD_LIBRARY_PATH and
 * ld.so.cache are deliberately ignored: the image must not depend on the
 * build environment. */
int mk_elf_add(struct mk_node *root, const char *src, const char *dst, runm_error_t *err);

#endif
