/* Unit tests for host-shim/resolv.c: a container's resolv.conf under user
 * networking (the shim's internals, compiled in). */
#include "../../host-shim/resolv.c"
#include "../../host-shim/netmode.c"

#include <sys/stat.h>

#include "tap.h"

static void rewrite_is(const char *in, int want_r, const char *want, const char *name)
{
  runm_error_t err = NULL;
  char *out = NULL;
  int r = resolv_rewrite(in, &out, &err);
  is_int(r, want_r, name);
  if (want) is_str(out, want, name);
  else ok(out == NULL, name);
  free(out);
  runm_error_release(&err);
}

static void test_rewrite(void)
{
  rewrite_is("nameserver 10.255.255.53\n", 0, NULL, "a reachable server is left alone");
  rewrite_is("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n", 1,
             "nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch example.org\n",
             "systemd-resolved stub becomes slirp's DNS, options and search kept");
  rewrite_is("nameserver 127.0.0.1\nnameserver ::1\nnameserver 8.8.8.8", 1,
             "nameserver 10.0.2.3\nnameserver 8.8.8.8\n",
             "several loopback servers become one; others kept in order");
  rewrite_is("# nameserver 127.0.0.1\n", 0, NULL, "a comment is not a server");
  rewrite_is("  nameserver\t127.1.2.3  \n", 1, "nameserver 10.0.2.3\n", "blanks around the words");
  rewrite_is("nameserver 0.0.0.0\n", 1, "nameserver 10.0.2.3\n", "unspecified address");
  rewrite_is("nameserver 127.0.0.53 extra\n", 0, NULL, "a malformed line is kept as it is");
  rewrite_is("", 0, NULL, "empty file");
}

static json_object *apply(const char *spec_json, const char *bundle, enum runm_net_mode net, int *ret)
{
  runm_error_t err = NULL;
  json_object *spec = json_tokener_parse(spec_json);
  if (net == RUNM_NET_NONE) {
    json_object *ann = json_object_new_object();
    json_object_object_add(ann, RUNM_NET_ANNOTATION, json_object_new_string("none"));
    json_object_object_add(spec, "annotations", ann);
  }
  *ret = resolv_apply(spec, bundle, &err);
  if (*ret < 0) printf("# error: %s\n", err ? err->msg : "?");
  runm_error_release(&err);
  return spec;
}

static const char *mount_source(json_object *spec, const char *dest)
{
  json_object *mounts, *d, *s;
  const char *src = NULL;
  if (!json_object_object_get_ex(spec, "mounts", &mounts)) return NULL;
  for (size_t i = 0; i < json_object_array_length(mounts); i++) {
    json_object *m = json_object_array_get_idx(mounts, i);
    if (json_object_object_get_ex(m, "destination", &d) && strcmp(json_object_get_string(d), dest) == 0 &&
        json_object_object_get_ex(m, "source", &s))
      src = json_object_get_string(s);
  }
  return src;
}

static char *slurp(const char *path)
{
  char *t = NULL;
  runm_error_t err = NULL;
  if (read_small(path, &t, &err) < 0) runm_error_release(&err);
  return t;
}

static void test_apply(void)
{
  char dir[] = "/tmp/runm-test-resolv.XXXXXX", file[300], hostfile[300], spec[1024];
  json_object *s;
  char *t;
  int r;

  if (mkdtemp(dir) == NULL) {
    ok(0, "mkdtemp");
    return;
  }
  snprintf(file, sizeof(file), "%s/%s", dir, RESOLV_FILE);
  snprintf(hostfile, sizeof(hostfile), "%s/host-resolv.conf", dir);

  s = apply("{\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}]}", dir,
            RUNM_NET_USER, &r);
  is_int(r, 0, "no resolv.conf mount: applied");
  is_str(mount_source(s, "/etc/resolv.conf"), file, "a bind of runm's file is added");
  t = slurp(file);
  is_str(t, "nameserver 10.0.2.3\n", "runm's file names slirp's DNS");
  free(t);
  json_object_put(s);
  unlink(file);

  s = apply("{}", dir, RUNM_NET_USER, &r);
  is_int(r, 0, "no mounts at all: applied");
  is_str(mount_source(s, "/etc/resolv.conf"), file, "mounts array created with the bind");
  json_object_put(s);
  unlink(file);

  s = apply("{}", dir, RUNM_NET_NONE, &r);
  is_int(r, 0, "network none: applied");
  ok(mount_source(s, "/etc/resolv.conf") == NULL, "network none: nothing added");
  ok(access(file, F_OK) < 0, "network none: no file written");
  json_object_put(s);

  FILE *f = fopen(hostfile, "w");
  fputs("nameserver 127.0.0.53\nsearch lan\n", f);
  fclose(f);
  snprintf(spec, sizeof(spec),
           "{\"mounts\":[{\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":\"%s\","
           "\"options\":[\"rbind\",\"ro\"]}]}",
           hostfile);
  s = apply(spec, dir, RUNM_NET_USER, &r);
  is_int(r, 0, "loopback resolv.conf bind: applied");
  is_str(mount_source(s, "/etc/resolv.conf"), file, "its source becomes runm's file");
  t = slurp(file);
  is_str(t, "nameserver 10.0.2.3\nsearch lan\n", "with the rewritten text");
  free(t);
  t = slurp(hostfile);
  is_str(t, "nameserver 127.0.0.53\nsearch lan\n", "the host's file is untouched");
  free(t);
  json_object_put(s);
  unlink(file);

  f = fopen(hostfile, "w");
  fputs("nameserver 192.0.2.1\n", f);
  fclose(f);
  s = apply(spec, dir, RUNM_NET_USER, &r);
  is_int(r, 0, "reachable resolv.conf bind: applied");
  is_str(mount_source(s, "/etc/resolv.conf"), hostfile, "its source is kept");
  ok(access(file, F_OK) < 0, "and no file is written");
  json_object_put(s);

  unlink(hostfile);
  s = apply(spec, dir, RUNM_NET_USER, &r);
  is_int(r, 0, "missing bind source: left for runc to report");
  is_str(mount_source(s, "/etc/resolv.conf"), hostfile, "source kept");
  json_object_put(s);

  s = apply("{\"mounts\":{}}", dir, RUNM_NET_USER, &r);
  ok(r < 0, "mounts that is not an array is an error");
  json_object_put(s);
  s = apply("{\"annotations\":{\"io.runm.net\":\"bridge\"}}", dir, RUNM_NET_USER, &r);
  ok(r < 0, "a bad io.runm.net annotation is an error");
  json_object_put(s);
  rmdir(dir);
}

int main(void)
{
  test_rewrite();
  test_apply();
  return tap_done();
}
