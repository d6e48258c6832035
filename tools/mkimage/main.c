/* runm-mkimage: builds runm's guest images reproducibly.
 *   mbin       squashfs with the guest binaries and their libraries
 *   initramfs  newc cpio holding the mounter as /init (and kernel modules) */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cleanup.h"
#include "cpio_writer.h"
#include "elf_deps.h"
#include "error.h"
#include "outfile.h"
#include "sqfs_writer.h"
#include "tree.h"

#define MAX_MODULES_LIST (64 * 1024)

static const char usage_text[] =
    "usage: runm-mkimage mbin --out FILE [--compressor gzip|xz|zstd] [--raw-data]\n"
    "                         [--elf SRC:DST]... [--file SRC:DST]... [--symlink TARGET:DST]...\n"
    "       runm-mkimage initramfs --out FILE --file SRC:DST [--file SRC:DST]...\n"
    "                         [--modules-list FILE]\n"
    "\n"
    "  --elf SRC:DST        add an x86_64 ELF binary and everything it needs at run time:\n"
    "                       its interpreter and, recursively, its DT_NEEDED libraries\n"
    "                       (stored in " MK_LIB_DIR ")\n"
    "  --file SRC:DST       add a file (mode 0755 if executable, else 0644)\n"
    "  --symlink TARGET:DST add a symbolic link\n"
    "  --modules-list FILE  kernel modules to load at boot, one .ko path per line in load\n"
    "                       order: stored as modules/NAME plus modules/load.list\n"
    "  --compressor NAME    squashfs compression (default " MK_SQFS_DEFAULT_COMPRESSOR ")\n"
    "  --raw-data           store file data uncompressed (metadata stays compressed)\n"
    "\n"
    "Entries are sorted; owners, times and inode numbers are fixed: the same inputs give\n"
    "the same bytes. Output is written to a temporary file and renamed into place.\n";

enum { OPT_OUT = 'o', OPT_ELF = 'e', OPT_FILE = 'f', OPT_SYMLINK = 's', OPT_MODULES = 'm',
       OPT_COMPRESSOR = 'c', OPT_RAW_DATA = 'r', OPT_HELP = 'h' };

/* Splits "A:B" at the last ':' (source paths may hold colons, image paths
 * never need to). */
static int split_spec(const char *opt, const char *spec, char **a, char **b, runm_error_t *err)
{
  const char *colon = strrchr(spec, ':');

  if (colon == NULL || colon == spec || colon[1] == '\0')
    return runm_make_error(err, EINVAL, "--%s `%s`: expected SRC:DST", opt, spec);
  *a = strndup(spec, (size_t)(colon - spec));
  *b = strdup(colon + 1);
  if (*a == NULL || *b == NULL) return runm_make_error(err, ENOMEM, "allocate");
  return 0;
}

static int add_file_spec(struct mk_node *root, const char *spec, runm_error_t *err)
{
  cleanup_free char *src = NULL, *dst = NULL;
  struct stat st;
  int ret;

  ret = split_spec("file", spec, &src, &dst, err);
  if (ret < 0) return ret;
  if (stat(src, &st) < 0) return runm_make_error(err, errno, "--file `%s`", src);
  if (!S_ISREG(st.st_mode))
    return runm_make_error(err, EINVAL, "--file `%s`: not a regular file", src);
  ret = mk_tree_add_file(root, dst, src, st.st_mode, err);
  return ret < 0 ? runm_error_wrap(err, "--file %s", spec) : 0;
}

static int add_elf_spec(struct mk_node *root, const char *spec, runm_error_t *err)
{
  cleanup_free char *src = NULL, *dst = NULL;
  int ret;

  ret = split_spec("elf", spec, &src, &dst, err);
  if (ret < 0) return ret;
  ret = mk_elf_add(root, src, dst, err);
  return ret < 0 ? runm_error_wrap(err, "--elf %s", spec) : 0;
}

static int add_symlink_spec(struct mk_node *root, const char *spec, runm_error_t *err)
{
  cleanup_free char *target = NULL, *dst = NULL;
  int ret;

  ret = split_spec("symlink", spec, &target, &dst, err);
  if (ret < 0) return ret;
  ret = mk_tree_add_symlink(root, dst, target, err);
  return ret < 0 ? runm_error_wrap(err, "--symlink %s", spec) : 0;
}

/* Adds each listed module as modules/NAME and writes modules/load.list with
 * the names in the listed order. */
static int add_modules(struct mk_node *root, const char *list, runm_error_t *err)
{
  cleanup_file FILE *f = NULL;
  cleanup_free char *line = NULL, *load = NULL;
  size_t cap = 0, load_len = 0;
  ssize_t n;
  int ret;

  f = fopen(list, "re");
  if (f == NULL) return runm_make_error(err, errno, "--modules-list `%s`", list);
  load = calloc(1, MAX_MODULES_LIST);
  if (load == NULL) return runm_make_error(err, ENOMEM, "allocate");

  while ((n = getline(&line, &cap, f)) >= 0) {
    cleanup_free char *dst = NULL;
    const char *base;
    struct stat st;
    char *p = line;

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\t'))
      line[--n] = '\0';
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0' || *p == '#') continue;
    base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    if (*base == '\0' || strchr(base, '\n'))
      return runm_make_error(err, EINVAL, "--modules-list `%s`: bad entry `%s`", list, p);
    if (stat(p, &st) < 0) return runm_make_error(err, errno, "--modules-list `%s`: `%s`", list, p);
    if (!S_ISREG(st.st_mode))
      return runm_make_error(err, EINVAL, "--modules-list `%s`: `%s` is not a file", list, p);
    if (asprintf(&dst, "modules/%s", base) < 0) return runm_make_error(err, ENOMEM, "allocate");
    if (mk_tree_lookup(root, dst) != NULL)
      return runm_make_error(err, EEXIST, "--modules-list `%s`: `%s` listed twice", list, base);
    ret = mk_tree_add_file(root, dst, p, 0644, err);
    if (ret < 0) return runm_error_wrap(err, "--modules-list %s", list);
    if (load_len + strlen(base) + 2 > MAX_MODULES_LIST)
      return runm_make_error(err, E2BIG, "--modules-list `%s`: too many modules", list);
    load_len += (size_t)sprintf(load + load_len, "%s\n", base);
  }
  if (ferror(f)) return runm_make_error(err, EIO, "read `%s`", list);
  return mk_tree_add_data(root, "modules/load.list", load, load_len, 0644, err);
}

enum image_kind { IMAGE_MBIN, IMAGE_INITRAMFS };

static int run(enum image_kind kind, int argc, char **argv, runm_error_t *err)
{
  static const struct option longopts[] = {
      {"out", required_argument, NULL, OPT_OUT},
      {"elf", required_argument, NULL, OPT_ELF},
      {"file", required_argument, NULL, OPT_FILE},
      {"symlink", required_argument, NULL, OPT_SYMLINK},
      {"modules-list", required_argument, NULL, OPT_MODULES},
      {"compressor", required_argument, NULL, OPT_COMPRESSOR},
      {"raw-data", no_argument, NULL, OPT_RAW_DATA},
      {"help", no_argument, NULL, OPT_HELP},
      {NULL, 0, NULL, 0},
  };
  cleanup_tree struct mk_node *root = NULL;
  cleanup_outfile struct mk_outfile out = MK_OUTFILE_INIT;
  const char *out_path = NULL, *compressor = MK_SQFS_DEFAULT_COMPRESSOR;
  int c, ret, n_files = 0;
  bool raw_data = false;

  ret = mk_tree_new(&root, err);
  if (ret < 0) return ret;
  opterr = 0; /* reported below, as one error line */
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    ret = 0;
    switch (c) {
    case OPT_OUT:
      out_path = optarg;
      break;
    case OPT_FILE:
      ret = add_file_spec(root, optarg, err);
      n_files++;
      break;
    case OPT_ELF:
    case OPT_SYMLINK:
    case OPT_COMPRESSOR:
    case OPT_RAW_DATA:
      if (kind != IMAGE_MBIN)
        return runm_make_error(err, EINVAL, "--elf, --symlink, --compressor and --raw-data are for mbin images");
      if (c == OPT_ELF) ret = add_elf_spec(root, optarg, err);
      else if (c == OPT_SYMLINK) ret = add_symlink_spec(root, optarg, err);
      else if (c == OPT_RAW_DATA) raw_data = true;
      else compressor = optarg;
      break;
    case OPT_MODULES:
      if (kind != IMAGE_INITRAMFS)
        return runm_make_error(err, EINVAL, "--modules-list is for initramfs images");
      ret = add_modules(root, optarg, err);
      break;
    case OPT_HELP:
      fputs(usage_text, stdout);
      return 0;
    default:
      return runm_make_error(err, EINVAL, "bad option `%s` (see --help)", argv[optind - 1]);
    }
    if (ret < 0) return ret;
  }
  if (optind < argc) return runm_make_error(err, EINVAL, "unexpected argument `%s`", argv[optind]);
  if (out_path == NULL) return runm_make_error(err, EINVAL, "--out is required");
  if (kind == IMAGE_INITRAMFS && n_files == 0)
    return runm_make_error(err, EINVAL, "initramfs needs at least one --file (the /init)");

  if (kind == IMAGE_INITRAMFS) {
    /* Like the kernel's default initramfs: /dev/console lets the kernel
     * give /init its stdin/stdout/stderr before devtmpfs is mounted. */
    ret = mk_tree_add_dir(root, "dev", 0755, err);
    if (ret == 0) ret = mk_tree_add_chardev(root, "dev/console", makedev(5, 1), 0600, err);
    if (ret < 0) return ret;
  }
  mk_tree_sort(root);

  ret = mk_outfile_open(&out, out_path, err);
  if (ret < 0) return ret;
  if (kind == IMAGE_MBIN)
    ret = mk_write_squashfs(root, out.fd, out_path, compressor, raw_data, err);
  else
    ret = mk_write_cpio(root, out.fd, out_path, err);
  if (ret < 0) return ret;
  return mk_outfile_commit(&out, err);
}

int main(int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  cleanup_free char *msg = NULL;
  enum image_kind kind;

  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "mbin") == 0) {
    kind = IMAGE_MBIN;
  } else if (strcmp(argv[1], "initramfs") == 0) {
    kind = IMAGE_INITRAMFS;
  } else {
    fprintf(stderr, "runm-mkimage: unknown image kind `%s` (mbin or initramfs)\n", argv[1]);
    return 2;
  }
  if (run(kind, argc - 1, argv + 1, &err) == 0) return 0;
  msg = runm_error_string(err);
  fprintf(stderr, "runm-mkimage: %s\n", msg ? msg : "error");
  return 1;
}
