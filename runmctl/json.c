/* The JSON writer behind `--json`. */
#include "json.h"

#include <inttypes.h>

void runm_json_init(struct runm_json *j, FILE *f)
{
  j->f = f;
  j->depth = 0;
  j->need_comma[0] = false;
}

void runm_json_write_escaped(FILE *f, const char *s)
{
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void key(struct runm_json *j, const char *k)
{
  if (j->need_comma[j->depth]) fputc(',', j->f);
  j->need_comma[j->depth] = true;
  if (k) {
    runm_json_write_escaped(j->f, k);
    fputc(':', j->f);
  }
}

static void open_(struct runm_json *j, const char *k, char c)
{
  key(j, k);
  fputc(c, j->f);
  if (j->depth < 15) j->depth++;
  j->need_comma[j->depth] = false;
}

static void close_(struct runm_json *j, char c)
{
  fputc(c, j->f);
  if (j->depth > 0) j->depth--;
  if (j->depth == 0) fputc('\n', j->f);
}

void runm_json_begin_object(struct runm_json *j, const char *k) { open_(j, k, '{'); }
void runm_json_end_object(struct runm_json *j) { close_(j, '}'); }
void runm_json_begin_array(struct runm_json *j, const char *k) { open_(j, k, '['); }
void runm_json_end_array(struct runm_json *j) { close_(j, ']'); }

void runm_json_string(struct runm_json *j, const char *k, const char *v)
{
  key(j, k);
  runm_json_write_escaped(j->f, v);
}

void runm_json_int(struct runm_json *j, const char *k, int64_t v)
{
  key(j, k);
  fprintf(j->f, "%" PRId64, v);
}

void runm_json_double(struct runm_json *j, const char *k, double v)
{
  key(j, k);
  fprintf(j->f, "%.6f", v);
}

void runm_json_bool(struct runm_json *j, const char *k, bool v)
{
  key(j, k);
  fputs(v ? "true" : "false", j->f);
}
