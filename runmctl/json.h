/* A tiny streaming JSON writer for command output (no parsing). */
#ifndef RUNM_JSON_H
#define RUNM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct runm_json {
  FILE *f;
  int depth;
  bool need_comma[16];
};

void runm_json_init(struct runm_json *j, FILE *f);
void runm_json_begin_object(struct runm_json *j, const char *key);
void runm_json_end_object(struct runm_json *j);
void runm_json_begin_array(struct runm_json *j, const char *key);
void runm_json_end_array(struct runm_json *j);
void runm_json_string(struct runm_json *j, const char *key, const char *value);
void runm_json_int(struct runm_json *j, const char *key, int64_t value);
void runm_json_double(struct runm_json *j, const char *key, double value);
void runm_json_bool(struct runm_json *j, const char *key, bool value);
/* Writes s as a JSON string literal with every control character escaped. */
void runm_json_write_escaped(FILE *f, const char *s);

#endif
