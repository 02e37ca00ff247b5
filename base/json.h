/* A small strict JSON parser (RFC 8259) with a DOM, and a tiny writer.
 *
 * Parser: objects, arrays, strings (escapes incl. \uXXXX and surrogate pairs, decoded to UTF-8;
 * raw bytes must be valid UTF-8), numbers, true/false/null. Strict: no trailing commas, no
 * comments, no leading zeros, no NaN/Infinity, no control characters in strings, no duplicate
 * keys, nothing after the value. Limits on nesting depth and input size. Errors are
 * ALTO_ERR_PARSE with "<what>:<line>:<col> (byte <offset>): <problem>".
 *
 * Writer: builds compact or indented text into a growing buffer; it asserts correct nesting
 * (a misuse is a bug, not a user error).
 */
#ifndef ALTO_BASE_JSON_H
#define ALTO_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum {
  ALTO_JSON_NULL,
  ALTO_JSON_BOOL,
  ALTO_JSON_NUMBER,
  ALTO_JSON_STRING,
  ALTO_JSON_ARRAY,
  ALTO_JSON_OBJECT,
  ALTO_JSON_TYPE_COUNT
} alto_json_type;

typedef struct alto_json alto_json;
struct alto_json {
  alto_json_type type;
  size_t offset; /* byte offset of the value in the parsed text */
  char *key;     /* member name when this value is an object member (NUL-terminated), else NULL */
  size_t key_len;
  bool boolean; /* BOOL */
  /* NUMBER: the text as written, its double value, and int64 when the value is integral and
   * exactly representable (integer syntax within int64, or |value| <= 2^53 otherwise). */
  char *num_text;
  double num;
  bool is_int;
  int64_t i64;
  /* STRING: decoded UTF-8, NUL-terminated (may also contain NUL from \u0000: use str_len). */
  char *str;
  size_t str_len;
  /* ARRAY / OBJECT: elements (members in document order, each with .key). */
  alto_json *items;
  size_t count;
};

typedef struct {
  int max_depth;   /* nesting of arrays/objects; default 256 */
  size_t max_size; /* bytes of input; default 256 MiB */
} alto_json_limits;

/* Parses `len` bytes of `text` (need not be NUL-terminated). `what` names the source in errors
 * (a file name, "header"); `limits` may be NULL. On success *out is owned by the caller. */
alto_status alto_json_parse(const char *text, size_t len, const char *what,
                            const alto_json_limits *limits, alto_json **out);
void alto_json_free(alto_json *v);

/* "null", "bool", "number", "string", "array", "object". */
const char *alto_json_type_name(alto_json_type t);

/* The member `key` of an object (NULL when absent or when v is not an object). */
const alto_json *alto_json_get(const alto_json *v, const char *key);
/* Typed lookups: NULL when absent or of another type. */
const char *alto_json_get_string(const alto_json *v, const char *key);
const alto_json *alto_json_get_type(const alto_json *v, const char *key, alto_json_type t);

/* ---- writer ---------------------------------------------------------------------------------- */
#define ALTO_JSON_WRITER_MAX_DEPTH 260

typedef struct {
  char *buf;
  size_t len, cap;
  int indent; /* 0: compact; n: newline and n spaces per level */
  int depth;
  int count[ALTO_JSON_WRITER_MAX_DEPTH]; /* values written at each open level */
  bool after_key;
} alto_json_writer;

void alto_json_writer_init(alto_json_writer *w, int indent);
void alto_json_writer_free(alto_json_writer *w);
/* The finished text (NUL-terminated, owned by the caller); the writer is reset. All containers
 * must be closed. */
char *alto_json_writer_take(alto_json_writer *w, size_t *len);

void alto_json_begin_object(alto_json_writer *w);
void alto_json_end_object(alto_json_writer *w);
void alto_json_begin_array(alto_json_writer *w);
void alto_json_end_array(alto_json_writer *w);
/* A member name inside an object; the next call writes its value. */
void alto_json_key(alto_json_writer *w, const char *key);
void alto_json_string(alto_json_writer *w, const char *s);
void alto_json_string_n(alto_json_writer *w, const char *s, size_t n);
void alto_json_int(alto_json_writer *w, int64_t v);
/* %.17g (round-trips); a non-finite value is written as null (JSON has no NaN/Inf). */
void alto_json_double(alto_json_writer *w, double v);
void alto_json_bool(alto_json_writer *w, bool v);
void alto_json_null(alto_json_writer *w);
/* Writes a parsed value (numbers as their original text). */
void alto_json_value(alto_json_writer *w, const alto_json *v);

#endif
