/* The shim's names (host-shim/names.c): VM ids never shared by two
 * (namespace, id) pairs; and spec_read refusing a root.path that is not a
 * string (host-shim/spec.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "spec.h"
#include "tap.h"
#include "vm.h"

static void vm_id(const char *ns, const char *id, char *out)
{
  shim_vm_id(ns, id, out, 80);
}

static int write_spec(const char *dir, const char *json)
{
  char path[300];
  FILE *f;
  snprintf(path, sizeof(path), "%s/config.json", dir);
  f = fopen(path, "w");
  if (f == NULL) return -1;
  fputs(json, f);
  return fclose(f);
}

int main(void)
{
  char a[80], b[80], c[80];
  char long_id[200];

  /* The collision of issue 11: (`a-b`, `c`) and (`a`, `b-c`). */
  vm_id("a-b", "c", a);
  vm_id("a", "b-c", b);
  ok(strcmp(a, b) != 0, "(a-b, c) and (a, b-c) are two VM ids");
  ok(runm_vm_id_valid(a) && runm_vm_id_valid(b), "both are valid VM ids");
  is_str(b, "a-b-c", "a namespace without '-' keeps the readable ns-id");
  ok(strchr(a, '_') != NULL, "a namespace with '-' gets the digest form");

  /* Deterministic: `shim delete` finds what the shim made. */
  vm_id("a-b", "c", c);
  is_str(c, a, "the same pair gives the same id");

  /* '_' in either part cannot forge another pair's readable id. */
  vm_id("x_y", "z", a);
  vm_id("x", "y_z", b);
  ok(strcmp(a, b) != 0 && strcmp(a, "x_y-z") != 0, "(x_y, z) and (x, y_z) differ");

  /* A digest id cannot be spelt by a readable pair: readable ids have no '_'. */
  vm_id("runm-test", "e2e", a);
  ok(strchr(a, '_') != NULL && strncmp(a, "runm-test-e2e", 13) == 0, "digest form keeps a readable hint");
  is_int(strlen(strchr(a, '_') + 1), SHIM_VM_ID_DIGEST, "digest form ends in the digest");

  /* Long ids (Kubernetes': 64 hex) are hashed and still fit. */
  memset(long_id, 'f', 64);
  long_id[64] = '\0';
  vm_id("k8s.io", long_id, a);
  ok(runm_vm_id_valid(a) && strlen(a) <= RUNM_VM_ID_MAX, "k8s.io/<64 hex> fits RUNM_VM_ID_MAX");
  long_id[63] = 'e';
  vm_id("k8s.io", long_id, b);
  ok(strcmp(a, b) != 0, "ids differing past the hint differ");

  /* The pool's spare VMs are `pool_<pid>`: no task id has that form. */
  vm_id("pool", "1234", a);
  ok(strcmp(a, "pool_1234") != 0, "task pool/1234 is not spare pool_1234");

  /* Odd inputs still make a valid id. */
  vm_id("", "", a);
  ok(runm_vm_id_valid(a), "empty ns and id: a valid id");
  vm_id("-x", "../..", a);
  ok(runm_vm_id_valid(a) && strstr(a, "/") == NULL, "separators and slashes never pass through");

  {
    /* Digests: part boundaries matter. */
    const char *p1[] = {"ab", "c"}, *p2[] = {"a", "bc"};
    char h1[65], h2[65];
    shim_digest_hex(p1, 2, h1, 64);
    shim_digest_hex(p2, 2, h2, 64);
    ok(strlen(h1) == 64 && strcmp(h1, h2) != 0, "digest of (ab, c) differs from (a, bc)");
    const char *p3[] = {""};
    shim_digest_hex(p3, 1, h1, 64);
    /* SHA-256 of a single NUL byte. */
    is_str(h1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "digest is SHA-256");
  }

  {
    /* spec_read: root.path null once crashed the shim (NULL deref). */
    char dir[] = "/tmp/runm-test-spec.XXXXXX";
    struct spec_info si;
    runm_error_t err = NULL;
    char *msg;
    if (mkdtemp(dir) == NULL) return 1;
    write_spec(dir, "{\"root\": {\"path\": null}}");
    ok(spec_read(dir, &si, &err) < 0 && err && err->status == EINVAL, "root.path null: EINVAL");
    msg = err ? runm_error_string(err) : NULL;
    ok(msg && strstr(msg, "root.path"), "root.path null: the error names root.path");
    if (msg) printf("#   %s\n", msg);
    free(msg);
    runm_error_release(&err);
    write_spec(dir, "{\"root\": {\"path\": 7}}");
    ok(spec_read(dir, &si, &err) < 0 && err, "root.path a number: refused");
    runm_error_release(&err);
    write_spec(dir, "{\"root\": {\"path\": \"\"}}");
    ok(spec_read(dir, &si, &err) < 0 && err, "root.path empty: refused");
    runm_error_release(&err);
    write_spec(dir, "{\"root\": null}");
    ok(spec_read(dir, &si, &err) < 0 && err, "root null: refused");
    runm_error_release(&err);
    write_spec(dir, "{\"root\": {\"path\": \"rootfs\"}}");
    ok(spec_read(dir, &si, &err) == 0 && si.root && strstr(si.root, "/rootfs"), "root.path rootfs: read");
    if (err == NULL) spec_free(&si);
    runm_error_release(&err);
    write_spec(dir, "{}");
    ok(spec_read(dir, &si, &err) == 0 && si.root && strstr(si.root, "/rootfs"), "no root: rootfs");
    if (err == NULL) spec_free(&si);
    runm_error_release(&err);
    {
      char path[300];
      snprintf(path, sizeof(path), "%s/config.json", dir);
      unlink(path);
      rmdir(dir);
    }
  }
  return tap_done();
}
