/* ELF dependency closure for runm-mkimage --elf (libelf: PT_INTERP,
 * DT_NEEDED, DT_RUNPATH/DT_RPATH, DT_SONAME). */
#include "elf_deps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* Far more than any real binary needs; stops runaway recursion. */
#define MAX_DEPTH 64
#define MAX_NEEDED 1024

static const char *const default_dirs[] = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                           "/lib", "/usr/lib"};

struct elf_info {
  char *interp;
  char *soname;
  char *runpath;
  char *rpath;
  char **needed;
  size_t n_needed;
};

/* The chain of objects that caused the current one to be loaded; their
 * DT_RPATH applies too unless they have DT_RUNPATH (glibc's rule). */
struct loader {
  const char *rpath; /* NULL when the object has DT_RUNPATH or no DT_RPATH */
  const char *origin;
  const struct loader *up;
};

struct elf_ctx {
  struct mk_node *root;
  const char *interp_base; /* DT_NEEDED names the loaded interpreter satisfies */
  const char *interp_soname;
};

static void elf_info_free(struct elf_info *info)
{
  size_t i;
  free(info->interp);
  free(info->soname);
  free(info->runpath);
  free(info->rpath);
  for (i = 0; i < info->n_needed; i++) free(info->needed[i]);
  free(info->needed);
  memset(info, 0, sizeof(*info));
}
#define cleanup_elf_info __attribute__((cleanup(elf_info_free)))

static void elf_endp(Elf **e)
{
  if (*e) elf_end(*e);
}
#define cleanup_elf __attribute__((cleanup(elf_endp)))

static int read_interp(Elf *elf, const char *path, struct elf_info *info, runm_error_t *err)
{
  size_t i, nphdr, raw_size;
  const char *raw;
  GElf_Phdr ph;

  if (elf_getphdrnum(elf, &nphdr) != 0)
    return runm_make_error(err, ENOEXEC, "`%s`: bad program headers: %s", path, elf_errmsg(-1));
  for (i = 0; i < nphdr; i++) {
    if (gelf_getphdr(elf, (int)i, &ph) == NULL)
      return runm_make_error(err, ENOEXEC, "`%s`: bad program header: %s", path, elf_errmsg(-1));
    if (ph.p_type != PT_INTERP) continue;
    raw = elf_rawfile(elf, &raw_size);
    /* Range-check the segment before reading the string in it. */
    if (raw == NULL || ph.p_filesz == 0 || ph.p_filesz > PATH_MAX || ph.p_offset > raw_size ||
        ph.p_filesz > raw_size - ph.p_offset || raw[ph.p_offset + ph.p_filesz - 1] != '\0')
      return runm_make_error(err, ENOEXEC, "`%s`: malformed PT_INTERP", path);
    info->interp = strdup(raw + ph.p_offset);
    if (info->interp == NULL) return runm_make_error(err, ENOMEM, "allocate");
    return 0;
  }
  return 0;
}

static int dup_str(char **out, const char *s, const char *path, runm_error_t *err)
{
  if (s == NULL) return runm_make_error(err, ENOEXEC, "`%s`: bad dynamic string offset", path);
  free(*out);
  *out = strdup(s);
  if (*out == NULL) return runm_make_error(err, ENOMEM, "allocate");
  return 0;
}

static int read_dynamic(Elf *elf, const char *path, struct elf_info *info, runm_error_t *err)
{
  Elf_Scn *scn = NULL;
  GElf_Shdr sh;
  int ret;

  while ((scn = elf_nextscn(elf, scn)) != NULL) {
    Elf_Data *data;
    size_t i, n, entsize;

    if (gelf_getshdr(scn, &sh) == NULL)
      return runm_make_error(err, ENOEXEC, "`%s`: bad section header: %s", path, elf_errmsg(-1));
    if (sh.sh_type != SHT_DYNAMIC) continue;
    data = elf_getdata(scn, NULL);
    entsize = gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
    if (data == NULL || entsize == 0)
      return runm_make_error(err, ENOEXEC, "`%s`: bad .dynamic: %s", path, elf_errmsg(-1));
    n = data->d_size / entsize;
    for (i = 0; i < n; i++) {
      GElf_Dyn dyn;
      const char *s;

      if (gelf_getdyn(data, (int)i, &dyn) == NULL)
        return runm_make_error(err, ENOEXEC, "`%s`: bad .dynamic entry", path);
      if (dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME && dyn.d_tag != DT_RUNPATH &&
          dyn.d_tag != DT_RPATH)
        continue;
      /* elf_strptr range-checks the offset against the string table. */
      s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
      switch (dyn.d_tag) {
      case DT_NEEDED: {
        char **nn;
        if (info->n_needed >= MAX_NEEDED)
          return runm_make_error(err, E2BIG, "`%s`: too many DT_NEEDED", path);
        nn = reallocarray(info->needed, info->n_needed + 1, sizeof(*nn));
        if (nn == NULL) return runm_make_error(err, ENOMEM, "allocate");
        info->needed = nn;
        info->needed[info->n_needed] = NULL;
        ret = dup_str(&info->needed[info->n_needed], s, path, err);
        if (ret < 0) return ret;
        info->n_needed++;
        break;
      }
      case DT_SONAME:
        ret = dup_str(&info->soname, s, path, err);
        if (ret < 0) return ret;
        break;
      case DT_RUNPATH:
        ret = dup_str(&info->runpath, s, path, err);
        if (ret < 0) return ret;
        break;
      case DT_RPATH:
        ret = dup_str(&info->rpath, s, path, err);
        if (ret < 0) return ret;
        break;
      default:
        break;
      }
    }
    return 0;
  }
  return 0;
}

/* Reads what ld.so would from path. Fails with ENOEXEC when the file is not
 * an x86_64 ELF executable or shared object. */
static int elf_read(const char *path, struct elf_info *info, runm_error_t *err)
{
  cleanup_close int fd = -1;
  cleanup_elf Elf *elf = NULL;
  GElf_Ehdr eh;
  size_t nphdr;
  int ret;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "open `%s`", path);
  elf = elf_begin(fd, ELF_C_READ, NULL);
  if (elf == NULL || elf_kind(elf) != ELF_K_ELF || gelf_getehdr(elf, &eh) == NULL)
    return runm_make_error(err, ENOEXEC, "`%s` is not an ELF file", path);
  if (gelf_getclass(elf) != ELFCLASS64 || eh.e_machine != EM_X86_64)
    return runm_make_error(err, ENOEXEC, "`%s` is not an x86_64 ELF file", path);
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
    return runm_make_error(err, ENOEXEC, "`%s` is not an ELF executable or shared object", path);
  if (elf_getphdrnum(elf, &nphdr) != 0)
    return runm_make_error(err, ENOEXEC, "`%s`: bad program headers", path);

  ret = read_interp(elf, path, info, err);
  if (ret < 0) return ret;
  return read_dynamic(elf, path, info, err);
}

static int dirname_of(const char *path, char **out, runm_error_t *err)
{
  const char *slash = strrchr(path, '/');
  *out = slash == NULL ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
  if (*out == NULL) return runm_make_error(err, ENOMEM, "allocate");
  return 0;
}

/* Expands $ORIGIN / ${ORIGIN} in one search path entry. Returns 0 and sets
 * *out to NULL for entries ld.so would ignore here (other $TOKENs, empty). */
static int expand_entry(const char *entry, size_t len, const char *origin, char **out,
                        runm_error_t *err)
{
  char buf[PATH_MAX];
  size_t o = 0, i = 0;

  *out = NULL;
  if (len == 0) return 0;
  while (i < len) {
    const char *add = NULL;
    size_t add_len = 0, skip = 1;

    if (entry[i] == '$') {
      if (len - i >= 7 && memcmp(entry + i, "$ORIGIN", 7) == 0) skip = 7;
      else if (len - i >= 9 && memcmp(entry + i, "${ORIGIN}", 9) == 0) skip = 9;
      else return 0; /* $LIB, $PLATFORM: not for this fixed x86_64 layout */
      add = origin;
      add_len = strlen(origin);
    } else {
      add = entry + i;
      add_len = 1;
    }
    if (o + add_len >= sizeof(buf)) return 0;
    memcpy(buf + o, add, add_len);
    o += add_len;
    i += skip;
  }
  buf[o] = '\0';
  *out = strdup(buf);
  if (*out == NULL) return runm_make_error(err, ENOMEM, "allocate");
  return 0;
}

/* Tries dir/name. Returns 1 with *out = real path when it is a usable
 * x86_64 ELF, 0 to keep searching, negative on a real error. */
static int try_candidate(const char *dir, const char *name, char **out, runm_error_t *err)
{
  cleanup_free char *path = NULL;
  cleanup_elf_info struct elf_info info = {0};
  runm_error_t probe_err = NULL;
  int ret;

  if (asprintf(&path, "%s/%s", dir, name) < 0) return runm_make_error(err, ENOMEM, "allocate");
  ret = elf_read(path, &info, &probe_err);
  if (ret < 0) {
    int status = probe_err ? probe_err->status : 0;
    runm_error_release(&probe_err);
    /* Like ld.so: missing files and foreign ELF classes are skipped. */
    if (status == ENOENT || status == ENOTDIR || status == ENOEXEC || status == EACCES) return 0;
    return runm_make_error(err, status, "open `%s`", path);
  }
  *out = realpath(path, NULL);
  if (*out == NULL) return runm_make_error(err, errno, "resolve `%s`", path);
  return 1;
}

static int search_list(const char *list, const char *origin, const char *name, char **out,
                       runm_error_t *err)
{
  const char *p = list;

  while (p != NULL && *p) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    cleanup_free char *dir = NULL;
    int ret;

    ret = expand_entry(p, len, origin, &dir, err);
    if (ret < 0) return ret;
    if (dir != NULL) {
      ret = try_candidate(dir, name, out, err);
      if (ret != 0) return ret;
    }
    p = colon ? colon + 1 : NULL;
  }
  return 0;
}

static int resolve_needed(const struct elf_info *info, const char *origin,
                          const struct loader *up, const char *name, const char *requester,
                          char **out, runm_error_t *err)
{
  const struct loader *l;
  size_t i;
  int ret;

  if (info->runpath == NULL) {
    ret = search_list(info->rpath, origin, name, out, err);
    if (ret != 0) return ret;
    for (l = up; l != NULL; l = l->up) {
      ret = search_list(l->rpath, l->origin, name, out, err);
      if (ret != 0) return ret;
    }
  } else {
    ret = search_list(info->runpath, origin, name, out, err);
    if (ret != 0) return ret;
  }
  for (i = 0; i < sizeof(default_dirs) / sizeof(default_dirs[0]); i++) {
    ret = try_candidate(default_dirs[i], name, out, err);
    if (ret != 0) return ret;
  }
  return runm_make_error(err, ENOENT,
                         "`%s` needs `%s`: not found in its RUNPATH/RPATH, "
                         "/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib",
                         requester, name);
}

static int valid_lib_name(const char *name)
{
  size_t len = strlen(name);
  return len > 0 && len <= 255 && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
         strcmp(name, "..") != 0;
}

static int add_needed(struct elf_ctx *ctx, const char *path, const struct loader *up, int depth,
                      runm_error_t *err)
{
  cleanup_elf_info struct elf_info info = {0};
  cleanup_free char *origin = NULL;
  struct loader self;
  size_t i;
  int ret;

  if (depth > MAX_DEPTH)
    return runm_make_error(err, ELOOP, "`%s`: library dependencies nested too deep", path);
  ret = elf_read(path, &info, err);
  if (ret < 0) return ret;
  ret = dirname_of(path, &origin, err);
  if (ret < 0) return ret;
  self.rpath = info.runpath ? NULL : info.rpath;
  self.origin = origin;
  self.up = up;

  for (i = 0; i < info.n_needed; i++) {
    const char *name = info.needed[i];
    cleanup_free char *dst = NULL, *real = NULL;
    struct stat st;

    if (!valid_lib_name(name))
      return runm_make_error(err, EINVAL, "`%s`: unsupported DT_NEEDED `%s`", path, name);
    /* The interpreter is loaded already and satisfies its own soname. */
    if ((ctx->interp_base && strcmp(name, ctx->interp_base) == 0) ||
        (ctx->interp_soname && strcmp(name, ctx->interp_soname) == 0))
      continue;
    if (asprintf(&dst, "%s/%s", MK_LIB_DIR, name) < 0)
      return runm_make_error(err, ENOMEM, "allocate");
    /* Loaded once per soname, like ld.so: the first resolution wins. */
    if (mk_tree_lookup(ctx->root, dst) != NULL) continue;

    ret = resolve_needed(&info, origin, up, name, path, &real, err);
    if (ret < 0) return ret;
    if (stat(real, &st) < 0) return runm_make_error(err, errno, "stat `%s`", real);
    ret = mk_tree_add_file(ctx->root, dst, real, st.st_mode, err);
    if (ret < 0) return ret;
    ret = add_needed(ctx, real, &self, depth + 1, err);
    if (ret < 0) return ret;
  }
  return 0;
}

int mk_elf_add(struct mk_node *root, const char *src, const char *dst, runm_error_t *err)
{
  cleanup_elf_info struct elf_info info = {0};
  cleanup_elf_info struct elf_info interp_info = {0};
  cleanup_free char *interp_real = NULL, *src_real = NULL;
  struct elf_ctx ctx = {.root = root};
  struct stat st;
  int ret;

  if (elf_version(EV_CURRENT) == EV_NONE)
    return runm_make_error(err, 0, "libelf: %s", elf_errmsg(-1));
  if (stat(src, &st) < 0) return runm_make_error(err, errno, "`%s`", src);
  if (!S_ISREG(st.st_mode)) return runm_make_error(err, EINVAL, "`%s` is not a regular file", src);
  ret = elf_read(src, &info, err);
  if (ret < 0) return ret;
  src_real = realpath(src, NULL);
  if (src_real == NULL) return runm_make_error(err, errno, "resolve `%s`", src);

  ret = mk_tree_add_file(root, dst, src_real, st.st_mode, err);
  if (ret < 0) return ret;

  if (info.interp != NULL) {
    const char *idst = info.interp, *base = strrchr(info.interp, '/');
    struct stat ist;

    if (info.interp[0] != '/')
      return runm_make_error(err, EINVAL, "`%s`: relative PT_INTERP `%s`", src, info.interp);
    while (*idst == '/') idst++;
    interp_real = realpath(info.interp, NULL);
    if (interp_real == NULL)
      return runm_make_error(err, errno, "`%s`: interpreter `%s`", src, info.interp);
    if (stat(interp_real, &ist) < 0) return runm_make_error(err, errno, "stat `%s`", interp_real);
    ret = elf_read(interp_real, &interp_info, err);
    if (ret < 0) return ret;
    ret = mk_tree_add_file(root, idst, interp_real, ist.st_mode, err);
    if (ret < 0) return ret;
    ctx.interp_base = base + 1;
    ctx.interp_soname = interp_info.soname;
  }
  return add_needed(&ctx, src_real, NULL, 0, err);
}
