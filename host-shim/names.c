/* The names the shim derives from containerd's identifiers: VM ids, socket
 * and pool dir names. Two tasks must never share one: a name is what
 * `shim delete`, a failed Create and teardown act on (they kill that VM,
 * unmount its binds, remove its state), so a collision lets one tenant's
 * cleanup reach another's VM. Every name is therefore either an injective
 * encoding of its inputs or carries a SHA-256 digest of them. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "vm.h"

void shim_digest_hex(const char *const *parts, size_t n, char *out, size_t hex_chars)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

  /* Each part with its NUL: the framing is unambiguous (a part holds no
   * NUL), so ("a\0b") and ("a", "b") differ. */
  for (size_t i = 0; ok && i < n; i++) ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    /* Only allocation fails here; a name that cannot be made is "", which
     * every user treats as unusable rather than as a shared name. */
    out[0] = '\0';
    return;
  }
  if (hex_chars > 2 * md_len) hex_chars = 2 * md_len;
  for (size_t i = 0; i < hex_chars; i++) out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
  out[hex_chars] = '\0';
}

static bool alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Readable `ns-id` only when it decodes one way: ns has no '-' (so the
 * first '-' splits), neither has '_' (every other form has one). */
static bool readable(const char *ns, const char *id)
{
  if (!alnum(ns[0]) || !alnum(id[0])) return false;
  for (const char *p = ns; *p; p++)
    if (!alnum(*p) && *p != '.') return false;
  for (const char *p = id; *p; p++)
    if (!alnum(*p) && *p != '.' && *p != '-') return false;
  return strlen(ns) + 1 + strlen(id) <= RUNM_VM_ID_MAX;
}

void shim_vm_id(const char *ns, const char *id, char *out, size_t len)
{
  char digest[SHIM_VM_ID_DIGEST + 1], hint[SHIM_VM_ID_HINT + 1];
  const char *parts[] = {ns, id};
  size_t h = 0;

  if (readable(ns, id) && strlen(ns) + 1 + strlen(id) < len) {
    snprintf(out, len, "%s-%s", ns, id);
    return;
  }
  /* The hint is for people reading `ps` and the state dir; the digest is
   * what tells two VMs apart. '_' occurs only at the digest's front. */
  for (const char *p = ns; *p && h < SHIM_VM_ID_HINT; p++) hint[h++] = alnum(*p) || *p == '.' || *p == '-' ? *p : '.';
  if (h < SHIM_VM_ID_HINT) hint[h++] = '-';
  for (const char *p = id; *p && h < SHIM_VM_ID_HINT; p++) hint[h++] = alnum(*p) || *p == '.' || *p == '-' ? *p : '.';
  hint[h] = '\0';
  if (!alnum(hint[0])) hint[0] = 'x';
  shim_digest_hex(parts, 2, digest, SHIM_VM_ID_DIGEST);
  if (digest[0] == '\0') out[0] = '\0';
  else snprintf(out, len, "%s_%s", hint, digest);
}
