/* Unit tests for guest/init/shares.c: the runm.shareN=ro|rw:PATH values
 * (shares.c compiled in with mount(2) and mkdir -p recorded, not done). */
#define mount fake_mount
#include "../../guest/init/shares.c"

#include <stdlib.h>

#include "tap.h"
#include "tap_err.h"

static struct {
  char src[32], dst[256];
  unsigned long flags;
} mounts[20];
static int n_mounts, n_mkdirs;

int fake_mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
  if (n_mounts < 20) {
    snprintf(mounts[n_mounts].src, sizeof(mounts[0].src), "%s", src);
    snprintf(mounts[n_mounts].dst, sizeof(mounts[0].dst), "%s", dst);
    mounts[n_mounts].flags = flags;
  }
  n_mounts++;
  if (strcmp(type, "virtiofs") == 0) return data == NULL ? 0 : -1;
  return strcmp(type, "9p") == 0 ? 0 : -1;
}

int init_mkdir_p(const char *path, runm_error_t *err)
{
  n_mkdirs++;
  return 0;
}

static int shares(const char *cmdline, char *msg, size_t cap)
{
  struct runm_logger log = {0};
  runm_error_t err = NULL;
  n_mounts = n_mkdirs = 0;
  return tap_take_error(init_mount_shares(cmdline, &log, &err), &err, msg, cap);
}

static void refused(const char *cmdline, const char *want, const char *name)
{
  char msg[256];
  ok(shares(cmdline, msg, sizeof(msg)) < 0 && n_mounts == 0, name);
  if (!ok(strstr(msg, want) != NULL, name)) printf("#   got '%s', want '%s' in it\n", msg, want);
}

int main(void)
{
  char msg[256];

  is_int(shares("console=ttyS0", msg, sizeof(msg)), 0, "no shares: nothing to do");
  is_int(n_mounts, 0, "no shares: nothing mounted");
  is_int(shares("runm.share0=ro:/srv/bundles runm.share2=rw:/var/lib/x", msg, sizeof(msg)), 0,
         "two shares mounted");
  is_int(n_mounts, 2, "one mount per share; a gap in the numbering is skipped");
  ok(strcmp(mounts[0].src, "runm0") == 0 && strcmp(mounts[0].dst, "/srv/bundles") == 0 &&
         (mounts[0].flags & MS_RDONLY),
     "share 0: tag runm0, read-only, at the host's path");
  ok(strcmp(mounts[1].src, "runm2") == 0 && strcmp(mounts[1].dst, "/var/lib/x") == 0 &&
         !(mounts[1].flags & MS_RDONLY),
     "share 2: tag runm2, read-write");
  ok((mounts[0].flags & (MS_NOSUID | MS_NODEV)) == (MS_NOSUID | MS_NODEV) &&
         (mounts[1].flags & (MS_NOSUID | MS_NODEV)) == (MS_NOSUID | MS_NODEV),
     "shares are nosuid,nodev");
  is_int(n_mkdirs, 2, "each mount point is made first");
  is_int(shares("runm.share15=ro:/last runm.share16=ro:/ignored", msg, sizeof(msg)), 0, "share 15 is the last");
  is_int(n_mounts, 1, "runm.share16 and above are not read");

  is_int(shares("runm.sharefs=virtiofs runm.share0=rw:/srv/x", msg, sizeof(msg)), 0,
         "runm.sharefs=virtiofs: the share mounts (as virtiofs, no options)");
  ok(n_mounts == 1 && strcmp(mounts[0].src, "runm0") == 0, "virtiofs: the source is the tag");
  refused("runm.sharefs=nfs runm.share0=rw:/srv", "runm.sharefs=`nfs` is not 9p or virtiofs",
          "an unknown runm.sharefs refused, named");
  refused("runm.share0=/srv", "runm.share0=`/srv` is not ro:PATH or rw:PATH", "no mode refused, named");
  refused("runm.share1=rx:/srv", "is not ro:PATH or rw:PATH", "unknown mode refused");
  refused("runm.share0=rw:srv", "is not ro:PATH or rw:PATH", "relative path refused");
  refused("runm.share0=rw:/srv/../etc", "runm.share0 path `/srv/../etc` is not normalised", "a /../ path refused");
  refused("runm.share0=rw:/srv/./x", "is not normalised", "a /./ path refused");
  char longv[1400];
  snprintf(longv, sizeof(longv), "runm.share3=rw:/%01250d", 0);
  refused(longv, "runm.share3 is too long", "an over-long share refused, not truncated");
  return tap_done();
}
