/* runm-mkimage's file tree: path normalization, clashes, sorting. */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A sane upper bound on image paths; squashfs names are at most 256 bytes. */
#define MK_PATH_MAX 4096
#define MK_NAME_MAX 255

static struct mk_node *node_new(const char *name, size_t len, enum mk_kind kind)
{
  struct mk_node *n = calloc(1, sizeof(*n));
  if (n == NULL) return NULL;
  n->name = strndup(name, len);
  if (n->name == NULL) {
    free(n);
    return NULL;
  }
  n->kind = kind;
  return n;
}

void mk_tree_free(struct mk_node *root)
{
  size_t i;
  if (root == NULL) return;
  for (i = 0; i < root->n_children; i++) mk_tree_free(root->children[i]);
  free(root->children);
  free(root->name);
  free(root->src);
  free(root->data);
  free(root->target);
  free(root);
}

int mk_tree_new(struct mk_node **out, runm_error_t *err)
{
  struct mk_node *root = node_new("", 0, MK_DIR);
  if (root == NULL) return runm_make_error(err, ENOMEM, "allocate tree");
  root->perm = 0755;
  *out = root;
  return 0;
}

static struct mk_node *find_child(const struct mk_node *dir, const char *name, size_t len)
{
  size_t i;
  for (i = 0; i < dir->n_children; i++) {
    struct mk_node *c = dir->children[i];
    if (strlen(c->name) == len && memcmp(c->name, name, len) == 0) return c;
  }
  return NULL;
}

static int append_child(struct mk_node *dir, struct mk_node *child, runm_error_t *err)
{
  if (dir->n_children == dir->cap_children) {
    size_t cap = dir->cap_children ? dir->cap_children * 2 : 8;
    struct mk_node **c = reallocarray(dir->children, cap, sizeof(*c));
    if (c == NULL) return runm_make_error(err, ENOMEM, "allocate directory");
    dir->children = c;
    dir->cap_children = cap;
  }
  child->parent = dir;
  dir->children[dir->n_children++] = child;
  return 0;
}

/* Validates dst and walks/creates its parent directories. On success *parent
 * is the directory to hold the last component, *leaf (*leaf_len bytes) that name. */
static int walk_parents(struct mk_node *root, const char *dst, struct mk_node **parent,
                        const char **leaf, size_t *leaf_len, runm_error_t *err)
{
  struct mk_node *dir = root;
  const char *p = dst;
  int ret;

  if (dst == NULL || *dst == '\0') return runm_make_error(err, EINVAL, "empty image path");
  if (strlen(dst) > MK_PATH_MAX)
    return runm_make_error(err, ENAMETOOLONG, "image path `%.64s...`", dst);
  if (*dst == '/') return runm_make_error(err, EINVAL, "image path `%s` must be relative", dst);

  for (;;) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    struct mk_node *c;

    if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
      return runm_make_error(err, EINVAL, "image path `%s`: empty, `.` or `..` component", dst);
    if (len > MK_NAME_MAX)
      return runm_make_error(err, ENAMETOOLONG, "image path `%s`: component too long", dst);
    if (slash == NULL) {
      *parent = dir;
      *leaf = p;
      *leaf_len = len;
      return 0;
    }
    c = find_child(dir, p, len);
    if (c == NULL) {
      c = node_new(p, len, MK_DIR);
      if (c == NULL) return runm_make_error(err, ENOMEM, "allocate tree node");
      c->perm = 0755;
      ret = append_child(dir, c, err);
      if (ret < 0) {
        mk_tree_free(c);
        return ret;
      }
    } else if (c->kind != MK_DIR) {
      return runm_make_error(err, ENOTDIR, "image path `%s`: `%.*s` is not a directory", dst,
                             (int)(p + len - dst), dst);
    }
    dir = c;
    p = slash + 1;
  }
}

static int same_entry(const struct mk_node *a, const struct mk_node *b)
{
  if (a->kind != b->kind || a->perm != b->perm) return 0;
  switch (a->kind) {
  case MK_DIR:
    return 1;
  case MK_FILE:
    if (a->src && b->src) return strcmp(a->src, b->src) == 0;
    return a->src == NULL && b->src == NULL && a->data_len == b->data_len &&
           memcmp(a->data, b->data, a->data_len) == 0;
  case MK_SYMLINK:
    return strcmp(a->target, b->target) == 0;
  case MK_CHARDEV:
    return a->rdev == b->rdev;
  default:
    return 0;
  }
}

/* Takes ownership of n in every case. */
static int add_node(struct mk_node *root, const char *dst, struct mk_node *n, runm_error_t *err)
{
  struct mk_node *parent = NULL, *old;
  const char *leaf = NULL;
  size_t leaf_len = 0;
  int ret;

  ret = walk_parents(root, dst, &parent, &leaf, &leaf_len, err);
  if (ret < 0) goto fail;
  free(n->name);
  n->name = strndup(leaf, leaf_len);
  if (n->name == NULL) {
    ret = runm_make_error(err, ENOMEM, "allocate tree node");
    goto fail;
  }
  old = find_child(parent, leaf, leaf_len);
  if (old != NULL) {
    /* An explicit directory may only restate what is already there. */
    if (same_entry(old, n) || (n->kind == MK_DIR && old->kind == MK_DIR)) {
      if (n->kind == MK_DIR) old->perm = n->perm;
      mk_tree_free(n);
      return 0;
    }
    ret = runm_make_error(err, EEXIST, "image path `%s` given twice with different contents", dst);
    goto fail;
  }
  ret = append_child(parent, n, err);
  if (ret < 0) goto fail;
  return 0;
fail:
  mk_tree_free(n);
  return ret;
}

static mode_t normalize_file_mode(mode_t perm)
{
  return (perm & 0111) ? 0755 : 0644;
}

int mk_tree_add_file(struct mk_node *root, const char *dst, const char *src, mode_t perm,
                     runm_error_t *err)
{
  struct mk_node *n = node_new("", 0, MK_FILE);
  if (n == NULL || (n->src = strdup(src)) == NULL) {
    mk_tree_free(n);
    return runm_make_error(err, ENOMEM, "allocate tree node");
  }
  n->perm = normalize_file_mode(perm);
  return add_node(root, dst, n, err);
}

int mk_tree_add_data(struct mk_node *root, const char *dst, const char *data, size_t len,
                     mode_t perm, runm_error_t *err)
{
  struct mk_node *n = node_new("", 0, MK_FILE);
  if (n == NULL || (n->data = malloc(len ? len : 1)) == NULL) {
    mk_tree_free(n);
    return runm_make_error(err, ENOMEM, "allocate tree node");
  }
  memcpy(n->data, data, len);
  n->data_len = len;
  n->perm = normalize_file_mode(perm);
  return add_node(root, dst, n, err);
}

int mk_tree_add_symlink(struct mk_node *root, const char *dst, const char *target,
                        runm_error_t *err)
{
  struct mk_node *n;

  if (target == NULL || *target == '\0' || strlen(target) > MK_PATH_MAX)
    return runm_make_error(err, EINVAL, "symlink `%s`: bad target", dst);
  n = node_new("", 0, MK_SYMLINK);
  if (n == NULL || (n->target = strdup(target)) == NULL) {
    mk_tree_free(n);
    return runm_make_error(err, ENOMEM, "allocate tree node");
  }
  n->perm = 0777;
  return add_node(root, dst, n, err);
}

int mk_tree_add_dir(struct mk_node *root, const char *dst, mode_t perm, runm_error_t *err)
{
  struct mk_node *n = node_new("", 0, MK_DIR);
  if (n == NULL) return runm_make_error(err, ENOMEM, "allocate tree node");
  n->perm = perm & 07777;
  return add_node(root, dst, n, err);
}

int mk_tree_add_chardev(struct mk_node *root, const char *dst, dev_t rdev, mode_t perm,
                        runm_error_t *err)
{
  struct mk_node *n = node_new("", 0, MK_CHARDEV);
  if (n == NULL) return runm_make_error(err, ENOMEM, "allocate tree node");
  n->perm = perm & 0777;
  n->rdev = rdev;
  return add_node(root, dst, n, err);
}

struct mk_node *mk_tree_lookup(struct mk_node *root, const char *dst)
{
  struct mk_node *n = root;
  const char *p = dst;

  while (n != NULL && *p) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (n->kind != MK_DIR) return NULL;
    n = find_child(n, p, len);
    if (slash == NULL) break;
    p = slash + 1;
  }
  return n;
}

static int cmp_nodes(const void *a, const void *b)
{
  const struct mk_node *x = *(struct mk_node *const *)a;
  const struct mk_node *y = *(struct mk_node *const *)b;
  return strcmp(x->name, y->name);
}

void mk_tree_sort(struct mk_node *root)
{
  size_t i;
  if (root->kind != MK_DIR) return;
  if (root->n_children > 1) qsort(root->children, root->n_children, sizeof(*root->children), cmp_nodes);
  for (i = 0; i < root->n_children; i++) mk_tree_sort(root->children[i]);
}

size_t mk_tree_subdirs(const struct mk_node *dir)
{
  size_t i, n = 0;
  for (i = 0; i < dir->n_children; i++)
    if (dir->children[i]->kind == MK_DIR) n++;
  return n;
}
