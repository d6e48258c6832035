/* Unit tests for host-shim/exports.c: which host paths a guest spec turns
 * into exports, how the spec is rewritten, and a teardown that follows no
 * symlink (the shim's internals, compiled in). */
#include "../../host-shim/exports.c"
#include "../../host-shim/fusebind.c"
#include "../../host-shim/guest_spec.c"

#include <sys/stat.h>

#include "tap.h"

static char tmp[] = "/tmp/runm-exports-XXXXXX";

static const char *source_of(json_object *spec, size_t i)
{
  return json_object_get_string(spec_member(json_object_array_get_idx(spec_member(spec, "mounts"), i), "source"));
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void test_plan(void)
{
  char state[PATH_MAX], dir[PATH_MAX], file[PATH_MAX], json[4 * PATH_MAX], want[PATH_MAX];
  struct exports ex;
  runm_error_t err = NULL;
  json_object *spec;

  snprintf(state, sizeof(state), "%s/state", tmp);
  snprintf(dir, sizeof(dir), "%s/vol", tmp);
  snprintf(file, sizeof(file), "%s/vol/hosts", tmp);
  mkdir(dir, 0755);
  write_file(file, "127.0.0.1 localhost\n");
  snprintf(json, sizeof(json),
           "{\"root\":{\"path\":\"rootfs\"},\"mounts\":["
           "{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},"
           "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
           "{\"destination\":\"/b\",\"type\":\"none\",\"source\":\"%s\",\"options\":[\"rbind\",\"rw\"]},"
           "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"ro\"]}]}",
           dir, dir, file);
  spec = json_tokener_parse(json);
  is_int(exports_init(&ex, state, "ns-id", &err), 0, "export dir made");
  is_int(exports_plan(&ex, spec, "/run/b", &err), 0, "spec planned");
  is_int((int)ex.n, 3, "three items: the rootfs, the dir (once), the file");
  is_str(ex.items[0].source, "/run/b/rootfs", "item 0 is the bundle's rootfs");
  is_str(ex.items[0].guest, "/run/b/rootfs", "the guest mounts it under its own bundle dir");
  is_str(json_object_get_string(spec_member(spec_member(spec, "root"), "path")), "/run/b/rootfs", "root.path is absolute");
  ok(ex.items[1].is_dir && !ex.items[1].readonly, "a source bound ro and rw is exported rw");
  is_str(source_of(spec, 0), "/run/runm/exports/1", "a dir volume's source is its export");
  is_str(source_of(spec, 2), "/run/runm/exports/1", "the same source, the same export");
  is_str(source_of(spec, 1), "proc", "a proc mount is left alone");
  ok(!ex.items[2].is_dir && ex.items[2].readonly, "the file is exported alone, ro");
  is_str(source_of(spec, 3), "/run/runm/exports/2/hosts", "a file volume's source is the file in its export");
  snprintf(want, sizeof(want), "%s/exports/ns-id/x/2", state);
  is_str(ex.items[2].share, want, "its host side is E/x/2");
  exports_free(&ex);
  json_object_put(spec);

  /* Bad input: named, nothing mounted. */
  spec = json_tokener_parse("{\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"rel\"}]}");
  is_int(exports_init(&ex, state, "ns-id", &err), 0, "export dir made again");
  ok(exports_plan(&ex, spec, "/run/b", &err) < 0 && err->status == EINVAL, "a relative bind source is refused");
  runm_error_release(&err);
  exports_free(&ex);
  json_object_put(spec);
  {
    json_object *m = json_object_new_array();
    spec = json_object_new_object();
    json_object_object_add(spec, "mounts", m);
    for (int i = 0; i < EXPORTS_MAX; i++) {
      char p[PATH_MAX + 16];
      json_object *e = json_object_new_object();
      snprintf(p, sizeof(p), "%s/v%d", tmp, i);
      mkdir(p, 0755);
      json_object_object_add(e, "type", json_object_new_string("bind"));
      json_object_object_add(e, "source", json_object_new_string(p));
      json_object_array_add(m, e);
    }
    is_int(exports_init(&ex, state, "ns-id", &err), 0, "export dir made a third time");
    ok(exports_plan(&ex, spec, "/run/b", &err) < 0 && err->status == E2BIG, "more than 15 bind sources are refused");
    runm_error_release(&err);
    exports_free(&ex);
    json_object_put(spec);
  }
  is_int(exports_remove(state, "ns-id", &err), 0, "export dir removed");
  ok(access(ex.dir, F_OK) < 0, "nothing left of it");
}

/* A tree shaped like E with symlinks where a guest would plant them: the
 * teardown removes the links, never what they point at. */
static void test_remove_follows_no_symlink(void)
{
  char state[PATH_MAX], e[PATH_MAX + 32], p[PATH_MAX + 64], sent[PATH_MAX];
  runm_error_t err = NULL;

  if (geteuid() != 0) {
    ok(1, "# SKIP the teardown test needs root (umount2)");
    return;
  }
  snprintf(state, sizeof(state), "%s/state2", tmp);
  snprintf(sent, sizeof(sent), "%s/sentinel", tmp);
  mkdir(sent, 0755);
  snprintf(p, sizeof(p), "%s/keep", sent);
  write_file(p, "keep\n");
  mkdir(state, 0700);
  snprintf(e, sizeof(e), "%s/exports", state);
  mkdir(e, 0700);
  snprintf(e, sizeof(e), "%s/exports/vm", state);
  mkdir(e, 0700);
  snprintf(p, sizeof(p), "%s/x", e);
  mkdir(p, 0700);
  snprintf(p, sizeof(p), "%s/x/0", e);
  mkdir(p, 0700);
  snprintf(p, sizeof(p), "%s/x/1", e);
  if (symlink(sent, p) < 0) perror("symlink");
  snprintf(p, sizeof(p), "%s/x/0/9", e);
  if (symlink(sent, p) < 0) perror("symlink");
  is_int(exports_remove(state, "vm", &err), 0, "a tree with planted symlinks is removed");
  ok(access(e, F_OK) < 0, "E is gone");
  snprintf(p, sizeof(p), "%s/keep", sent);
  ok(access(p, F_OK) == 0, "the symlinks' target is intact");
  runm_error_release(&err);
}

int main(void)
{
  if (mkdtemp(tmp) == NULL) return 1;
  test_plan();
  test_remove_follows_no_symlink();
  {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    if (system(cmd) != 0) return 1;
  }
  return tap_done();
}
