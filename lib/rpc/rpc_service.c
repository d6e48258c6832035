/* Method tables and calls from generated service descriptors (rpc_service.h). */
#include "rpc_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "pb.h"

#define PATH_MAX_LEN 160

int runm_rpc_methods_build(const ProtobufCServiceDescriptor *svc, const struct runm_rpc_handler *h,
                           size_t n, struct runm_rpc_method **out, runm_error_t *err)
{
  struct runm_rpc_method *m;
  char *names;

  *out = NULL;
  if (n != svc->n_methods)
    return runm_make_error(err, EINVAL, "%s has %u methods; %zu handlers given", svc->name,
                           svc->n_methods, n);
  /* One block: the table, then each method's path. */
  m = calloc(1, n * sizeof(*m) + n * PATH_MAX_LEN);
  if (m == NULL) return runm_make_error(err, ENOMEM, "method table for %s", svc->name);
  names = (char *)(m + n);
  for (size_t i = 0; i < n; i++) {
    int idx = runm_pb_method_index(svc, h[i].method);
    char *path = names + i * PATH_MAX_LEN;
    if (idx < 0 || runm_pb_method_path(svc, (unsigned)idx, path, PATH_MAX_LEN) == NULL) {
      free(m);
      return runm_make_error(err, EINVAL, "%s has no method `%s`", svc->name, h[i].method);
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp(h[k].method, h[i].method) == 0) {
        free(m);
        return runm_make_error(err, EINVAL, "%s: method `%s` handled twice", svc->name, h[i].method);
      }
    if ((h[i].kind == RUNM_RPC_UNARY) != (h[i].unary != NULL)) {
      free(m);
      return runm_make_error(err, EINVAL, "%s/%s: handler does not match its kind", svc->name,
                             h[i].method);
    }
    m[i] = (struct runm_rpc_method){
        .name = path,
        .kind = h[i].kind,
        .request = svc->methods[idx].input,
        .response = svc->methods[idx].output,
        .unary = h[i].unary,
        .stream = h[i].stream,
    };
  }
  *out = m;
  return 0;
}

int runm_rpc_call(struct runm_rpc_client *cl, const ProtobufCServiceDescriptor *svc, const char *method,
                  const ProtobufCMessage *req, ProtobufCMessage **resp, int64_t timeout_ms,
                  runm_error_t *err)
{
  char path[PATH_MAX_LEN];
  int idx = runm_pb_method_index(svc, method);

  *resp = NULL;
  if (idx < 0 || runm_pb_method_path(svc, (unsigned)idx, path, sizeof(path)) == NULL)
    return runm_make_error(err, EINVAL, "%s has no method `%s`", svc->name, method);
  if (req->descriptor != svc->methods[idx].input)
    return runm_make_error(err, EINVAL, "%s: request is a %s, not a %s", path, req->descriptor->name,
                           svc->methods[idx].input->name);
  return runm_rpc_client_unary(cl, path, req, svc->methods[idx].output, resp, timeout_ms, false, err);
}
