/* runm's state dirs hold the sockets that drive VMs and the files QEMU and
 * the owner write. A dir another user made (a predictable /tmp path made
 * first), or one others may write, would let them plant or swap those: every
 * state dir is checked before use and refused otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm.h"

int runm_state_dir_check(const char *path, bool create, runm_error_t *err)
{
  struct stat st;

  if (path == NULL || *path == '\0') return runm_make_error(err, EINVAL, "no state dir given");
  if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir state dir `%s`", path);
  if (lstat(path, &st) < 0) return runm_make_error(err, errno, "state dir `%s`", path);
  if (S_ISLNK(st.st_mode))
    return runm_make_error(err, ELOOP, "state dir `%s` is a symlink; refusing to use it", path);
  if (!S_ISDIR(st.st_mode))
    return runm_make_error(err, ENOTDIR, "state dir `%s` is not a directory", path);
  if (st.st_uid != geteuid())
    return runm_make_error(err, EPERM,
                           "state dir `%s` is owned by uid %u, not by us (uid %u); refusing to "
                           "use it",
                           path, (unsigned)st.st_uid, (unsigned)geteuid());
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return runm_make_error(err, EPERM,
                           "state dir `%s` has mode %04o: group or others may write it; refusing "
                           "to use it",
                           path, (unsigned)(st.st_mode & 07777));
  return 0;
}

int runm_vm_dir_check(const char *path, runm_error_t *err)
{
  struct stat st;
  if (runm_state_dir_check(path, false, err) < 0) return -1;
  if (lstat(path, &st) < 0) return runm_make_error(err, errno, "VM dir `%s`", path);
  if (st.st_mode & 077)
    return runm_make_error(err, EPERM, "VM dir `%s` has mode %04o, not 0700; refusing to use it",
                           path, (unsigned)(st.st_mode & 07777));
  return 0;
}
