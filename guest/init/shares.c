/* Host directories shared into the guest (9p or virtio-fs, tag runmN), mounted at the
 * same absolute path as on the host so OCI specs need no rewriting. The
 * kernel command line lists them as runm.shareN=ro|rw:PATH. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cmdline.h"
#include "cmdline_keys.h"
#include "init.h"

#define MAX_SHARES 16

int init_mount_shares(const char *cmdline, struct runm_logger *log, runm_error_t *err)
{
  char fs[16];
  bool virtiofs;
  int r = runm_cmdline_get(cmdline, RUNM_KEY_SHARE_FS, fs, sizeof(fs));

  if (r < 0) return runm_make_error(err, -r, "%s is too long", RUNM_KEY_SHARE_FS);
  virtiofs = r > 0 && strcmp(fs, "virtiofs") == 0;
  if (r > 0 && !virtiofs && strcmp(fs, "9p") != 0)
    return runm_make_error(err, EINVAL, "%s=`%s` is not 9p or virtiofs", RUNM_KEY_SHARE_FS, fs);
  for (int i = 0; i < MAX_SHARES; i++) {
    char key[32], val[1200], tag[16], *path;
    unsigned long flags = MS_NOSUID | MS_NODEV;

    snprintf(key, sizeof(key), RUNM_KEY_SHARE "%d", i);
    r = runm_cmdline_get(cmdline, key, val, sizeof(val));
    if (r < 0) return runm_make_error(err, -r, "%s is too long", key);
    if (r == 0) continue;
    if (strncmp(val, "ro:/", 4) == 0)
      flags |= MS_RDONLY;
    else if (strncmp(val, "rw:/", 4) != 0)
      return runm_make_error(err, EINVAL, "%s=`%s` is not ro:PATH or rw:PATH", key, val);
    path = val + 3;
    if (strstr(path, "/../") || strstr(path, "/./"))
      return runm_make_error(err, EINVAL, "%s path `%s` is not normalised", key, path);
    snprintf(tag, sizeof(tag), "runm%d", i);
    if (init_mkdir_p(path, err) < 0) return -1;
    /* virtio-fs: the cache policy is virtiofsd's (cache=auto). */
    if (virtiofs ? mount(tag, path, "virtiofs", flags, NULL) < 0
                 : mount(tag, path, "9p", flags, "trans=virtio,version=9p2000.L,msize=524288,cache=mmap") < 0)
      return runm_make_error(err, errno, "mount share %s on `%s`", tag, path);
    runm_log(log, RUNM_LOG_DEBUG, "share %s mounted on %s (%s)", tag, path,
             flags & MS_RDONLY ? "ro" : "rw");
  }
  return 0;
}
