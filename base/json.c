#include "base/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- parser ---------------------------------------------------------------------------------- */

typedef struct {
  const unsigned char *s;
  size_t len, pos;
  const char *what;
  int max_depth;
} alto_json_parser_;

/* Records "<what>:<line>:<col> (byte N): msg" for byte offset `at`. */
static alto_status alto_json_fail_(const alto_json_parser_ *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static alto_status alto_json_fail_(const alto_json_parser_ *p, size_t at, const char *fmt, ...) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at && i < p->len; i++) {
    if (p->s[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return alto_error(ALTO_ERR_PARSE, "%s:%zu:%zu (byte %zu): %s", p->what, line, col, at, msg);
}

static void alto_json_skip_ws_(alto_json_parser_ *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    p->pos++;
  }
}

/* A short printable description of the byte at `at` for messages. */
static const char *alto_json_describe_(const alto_json_parser_ *p, size_t at, char *buf, size_t n) {
  if (at >= p->len)
    return "end of input";
  unsigned char c = p->s[at];
  if (c >= 0x20 && c < 0x7F)
    snprintf(buf, n, "'%c'", c);
  else
    snprintf(buf, n, "byte 0x%02X", c);
  return buf;
}

typedef struct {
  char *buf;
  size_t len, cap;
} alto_json_buf_;

static void alto_json_buf_put_(alto_json_buf_ *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->buf = alto_xrealloc(b->buf, cap);
    b->cap = cap;
  }
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = '\0';
}

static size_t alto_json_utf8_encode_(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no surrogates,
 * <= U+10FFFF), 0 if invalid. */
static size_t alto_json_utf8_valid_(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t k;
  uint32_t cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    k = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    k = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    k = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < k)
    return 0;
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return k;
}

static int alto_json_hex4_(const unsigned char *s) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int c = s[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Parses a string at p->pos (which is a double quote); the decoded bytes go to out, out_len. */
static alto_status alto_json_parse_string_(alto_json_parser_ *p, char **out, size_t *out_len) {
  size_t start = p->pos++;
  alto_json_buf_ b = {0};
  alto_json_buf_put_(&b, "", 0);
  alto_status st = ALTO_OK;
  for (;;) {
    if (p->pos >= p->len) {
      st = alto_json_fail_(p, start, "unterminated string");
      break;
    }
    unsigned char c = p->s[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) {
      st = alto_json_fail_(p, p->pos, "control character 0x%02X in string (escape it)", c);
      break;
    }
    if (c != '\\') {
      size_t k = alto_json_utf8_valid_(p->s + p->pos, p->len - p->pos);
      if (!k) {
        st = alto_json_fail_(p, p->pos, "invalid UTF-8 byte 0x%02X in string", c);
        break;
      }
      alto_json_buf_put_(&b, (const char *)p->s + p->pos, k);
      p->pos += k;
      continue;
    }
    size_t esc = p->pos;
    if (p->pos + 1 >= p->len) {
      st = alto_json_fail_(p, start, "unterminated string");
      break;
    }
    unsigned char e = p->s[p->pos + 1];
    const char *simple = NULL;
    switch (e) {
    case '"':
      simple = "\"";
      break;
    case '\\':
      simple = "\\";
      break;
    case '/':
      simple = "/";
      break;
    case 'b':
      simple = "\b";
      break;
    case 'f':
      simple = "\f";
      break;
    case 'n':
      simple = "\n";
      break;
    case 'r':
      simple = "\r";
      break;
    case 't':
      simple = "\t";
      break;
    default:
      break;
    }
    if (simple) {
      alto_json_buf_put_(&b, simple, 1);
      p->pos += 2;
      continue;
    }
    if (e != 'u') {
      char d[32];
      st = alto_json_fail_(
          p, esc, "invalid escape '\\%s' (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
          alto_json_describe_(p, p->pos + 1, d, sizeof d));
      break;
    }
    int hi = p->pos + 6 <= p->len ? alto_json_hex4_(p->s + p->pos + 2) : -1;
    if (hi < 0) {
      st = alto_json_fail_(p, esc, "invalid \\u escape (needs 4 hex digits)");
      break;
    }
    p->pos += 6;
    uint32_t cp = (uint32_t)hi;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      st = alto_json_fail_(p, esc, "lone low surrogate \\u%04X", cp);
      break;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      int lo = -1;
      if (p->pos + 6 <= p->len && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u')
        lo = alto_json_hex4_(p->s + p->pos + 2);
      if (lo < 0xDC00 || lo > 0xDFFF) {
        st = alto_json_fail_(p, esc, "high surrogate \\u%04X not followed by a low surrogate", cp);
        break;
      }
      p->pos += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    }
    char u[4];
    alto_json_buf_put_(&b, u, alto_json_utf8_encode_(cp, u));
  }
  if (st != ALTO_OK) {
    free(b.buf);
    return st;
  }
  *out = b.buf;
  *out_len = b.len;
  return ALTO_OK;
}

static alto_status alto_json_parse_number_(alto_json_parser_ *p, alto_json *v) {
  size_t start = p->pos, i = p->pos;
  const unsigned char *s = p->s;
  bool integer_syntax = true;
  if (i < p->len && s[i] == '-')
    i++;
  if (i >= p->len || s[i] < '0' || s[i] > '9')
    return alto_json_fail_(p, start, "invalid number (a digit must follow '-')");
  if (s[i] == '0') {
    i++;
    if (i < p->len && s[i] >= '0' && s[i] <= '9')
      return alto_json_fail_(p, start, "invalid number: leading zeros are not allowed");
  } else {
    while (i < p->len && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  if (i < p->len && s[i] == '.') {
    integer_syntax = false;
    i++;
    if (i >= p->len || s[i] < '0' || s[i] > '9')
      return alto_json_fail_(p, i, "invalid number: a digit must follow '.'");
    while (i < p->len && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    integer_syntax = false;
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= p->len || s[i] < '0' || s[i] > '9')
      return alto_json_fail_(p, i, "invalid number: a digit must follow the exponent");
    while (i < p->len && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  size_t n = i - start;
  v->type = ALTO_JSON_NUMBER;
  v->num_text = alto_xmalloc(n + 1);
  memcpy(v->num_text, s + start, n);
  v->num_text[n] = '\0';
  v->num = strtod(v->num_text, NULL); /* overflow gives +-HUGE_VAL: kept, the text is exact */
  if (integer_syntax) {
    errno = 0;
    long long ll = strtoll(v->num_text, NULL, 10);
    if (errno == 0) {
      v->is_int = true;
      v->i64 = (int64_t)ll;
    }
  } else if (isfinite(v->num) && v->num == floor(v->num) && fabs(v->num) <= 9007199254740992.0) {
    v->is_int = true;
    v->i64 = (int64_t)v->num;
  }
  p->pos = i;
  return ALTO_OK;
}

static bool alto_json_literal_(alto_json_parser_ *p, const char *lit) {
  size_t n = strlen(lit);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
    return false;
  p->pos += n;
  return true;
}

static int alto_json_key_cmp_(const void *a, const void *b) {
  const alto_json *x = *(const alto_json *const *)a, *y = *(const alto_json *const *)b;
  size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(x->key, y->key, n);
  if (c)
    return c;
  return x->key_len < y->key_len ? -1 : (x->key_len > y->key_len);
}

static alto_status alto_json_check_duplicates_(alto_json_parser_ *p, const alto_json *obj) {
  if (obj->count < 2)
    return ALTO_OK;
  const alto_json **sorted = alto_xmalloc(obj->count * sizeof *sorted);
  for (size_t i = 0; i < obj->count; i++)
    sorted[i] = &obj->items[i];
  qsort(sorted, obj->count, sizeof *sorted, alto_json_key_cmp_);
  alto_status st = ALTO_OK;
  for (size_t i = 1; i < obj->count; i++)
    if (alto_json_key_cmp_(&sorted[i - 1], &sorted[i]) == 0) {
      const alto_json *later =
          sorted[i]->offset > sorted[i - 1]->offset ? sorted[i] : sorted[i - 1];
      st = alto_json_fail_(p, later->offset, "duplicate key \"%s\"", later->key);
      break;
    }
  free(sorted);
  return st;
}

static void alto_json_free_members_(alto_json *v);

static alto_status alto_json_parse_value_(alto_json_parser_ *p, alto_json *v, int depth);

/* Parses an array or object at p->pos ('[' or '{') into v. */
static alto_status alto_json_parse_container_(alto_json_parser_ *p, alto_json *v, int depth) {
  bool is_obj = p->s[p->pos] == '{';
  char close = is_obj ? '}' : ']';
  if (depth >= p->max_depth)
    return alto_json_fail_(p, p->pos, "nesting deeper than %d levels", p->max_depth);
  v->type = is_obj ? ALTO_JSON_OBJECT : ALTO_JSON_ARRAY;
  p->pos++;
  size_t cap = 0;
  alto_json_skip_ws_(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    return ALTO_OK;
  }
  for (;;) {
    alto_json_skip_ws_(p);
    if (v->count == cap) {
      cap = cap ? cap * 2 : 4;
      v->items = alto_xrealloc(v->items, cap * sizeof *v->items);
    }
    alto_json *item = &v->items[v->count];
    memset(item, 0, sizeof *item);
    v->count++;
    char d[32];
    if (is_obj) {
      if (p->pos >= p->len || p->s[p->pos] != '"') {
        if (p->pos < p->len && p->s[p->pos] == '}')
          return alto_json_fail_(p, p->pos, "trailing comma before '}'");
        return alto_json_fail_(p, p->pos, "expected a string key, found %s",
                               alto_json_describe_(p, p->pos, d, sizeof d));
      }
      item->offset = p->pos;
      ALTO_TRY(alto_json_parse_string_(p, &item->key, &item->key_len));
      alto_json_skip_ws_(p);
      if (p->pos >= p->len || p->s[p->pos] != ':')
        return alto_json_fail_(p, p->pos, "expected ':' after key \"%s\", found %s", item->key,
                               alto_json_describe_(p, p->pos, d, sizeof d));
      p->pos++;
      alto_json_skip_ws_(p);
    } else if (p->pos < p->len && p->s[p->pos] == ']') {
      return alto_json_fail_(p, p->pos, "trailing comma before ']'");
    }
    size_t key_offset = item->offset;
    ALTO_TRY(alto_json_parse_value_(p, item, depth + 1));
    if (is_obj)
      item->offset = key_offset;
    alto_json_skip_ws_(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == close) {
      p->pos++;
      break;
    }
    return alto_json_fail_(p, p->pos, "expected ',' or '%c' in %s, found %s", close,
                           is_obj ? "object" : "array",
                           alto_json_describe_(p, p->pos, d, sizeof d));
  }
  return is_obj ? alto_json_check_duplicates_(p, v) : ALTO_OK;
}

static alto_status alto_json_parse_value_(alto_json_parser_ *p, alto_json *v, int depth) {
  alto_json_skip_ws_(p);
  v->offset = p->pos;
  char d[32];
  if (p->pos >= p->len)
    return alto_json_fail_(p, p->pos, "unexpected end of input (expected a value)");
  unsigned char c = p->s[p->pos];
  switch (c) {
  case '{':
  case '[':
    return alto_json_parse_container_(p, v, depth);
  case '"':
    v->type = ALTO_JSON_STRING;
    return alto_json_parse_string_(p, &v->str, &v->str_len);
  case 't':
  case 'f':
  case 'n':
    if (alto_json_literal_(p, "true") || alto_json_literal_(p, "false")) {
      v->type = ALTO_JSON_BOOL;
      v->boolean = c == 't';
      return ALTO_OK;
    }
    if (alto_json_literal_(p, "null")) {
      v->type = ALTO_JSON_NULL;
      return ALTO_OK;
    }
    break;
  default:
    if (c == '-' && p->pos + 1 < p->len && p->s[p->pos + 1] == 'I')
      break;
    if (c == '-' || (c >= '0' && c <= '9'))
      return alto_json_parse_number_(p, v);
    break;
  }
  if (c == 'N' || c == 'I' || c == '-')
    return alto_json_fail_(p, p->pos, "NaN and Infinity are not JSON (use null or a string)");
  return alto_json_fail_(p, p->pos, "unexpected %s (expected a value)",
                         alto_json_describe_(p, p->pos, d, sizeof d));
}

alto_status alto_json_parse(const char *text, size_t len, const char *what,
                            const alto_json_limits *limits, alto_json **out) {
  *out = NULL;
  alto_json_parser_ p = {(const unsigned char *)text, len, 0, what ? what : "json", 256};
  size_t max_size = (size_t)256 << 20;
  if (limits) {
    if (limits->max_depth > 0)
      p.max_depth = limits->max_depth;
    if (limits->max_size > 0)
      max_size = limits->max_size;
  }
  if (len > max_size)
    return alto_error(ALTO_ERR_PARSE, "%s: JSON text of %zu bytes exceeds the limit of %zu bytes",
                      p.what, len, max_size);
  alto_json *v = alto_xcalloc(1, sizeof *v);
  alto_status st = alto_json_parse_value_(&p, v, 0);
  if (st == ALTO_OK) {
    alto_json_skip_ws_(&p);
    if (p.pos < p.len) {
      char d[32];
      st = alto_json_fail_(&p, p.pos, "unexpected %s after the value",
                           alto_json_describe_(&p, p.pos, d, sizeof d));
    }
  }
  if (st != ALTO_OK) {
    alto_json_free(v);
    return st;
  }
  *out = v;
  return ALTO_OK;
}

static void alto_json_free_members_(alto_json *v) {
  for (size_t i = 0; i < v->count; i++)
    alto_json_free_members_(&v->items[i]);
  free(v->items);
  free(v->key);
  free(v->num_text);
  free(v->str);
}

void alto_json_free(alto_json *v) {
  if (!v)
    return;
  alto_json_free_members_(v);
  free(v);
}

const char *alto_json_type_name(alto_json_type t) {
  static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
  _Static_assert(sizeof names / sizeof names[0] == ALTO_JSON_TYPE_COUNT, "name every type");
  ALTO_ASSERT((unsigned)t < ALTO_JSON_TYPE_COUNT);
  return names[t];
}

const alto_json *alto_json_get(const alto_json *v, const char *key) {
  if (!v || v->type != ALTO_JSON_OBJECT)
    return NULL;
  size_t n = strlen(key);
  for (size_t i = 0; i < v->count; i++)
    if (v->items[i].key_len == n && memcmp(v->items[i].key, key, n) == 0)
      return &v->items[i];
  return NULL;
}

const alto_json *alto_json_get_type(const alto_json *v, const char *key, alto_json_type t) {
  const alto_json *m = alto_json_get(v, key);
  return m && m->type == t ? m : NULL;
}

const char *alto_json_get_string(const alto_json *v, const char *key) {
  const alto_json *m = alto_json_get_type(v, key, ALTO_JSON_STRING);
  return m ? m->str : NULL;
}

/* ---- writer ---------------------------------------------------------------------------------- */

static void alto_json_put_(alto_json_writer *w, const char *s, size_t n) {
  if (w->len + n + 1 > w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 256;
    while (cap < w->len + n + 1)
      cap *= 2;
    w->buf = alto_xrealloc(w->buf, cap);
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void alto_json_puts_(alto_json_writer *w, const char *s) {
  alto_json_put_(w, s, strlen(s));
}

static void alto_json_newline_(alto_json_writer *w, int depth) {
  if (!w->indent)
    return;
  alto_json_put_(w, "\n", 1);
  for (int i = 0; i < depth * w->indent; i++)
    alto_json_put_(w, " ", 1);
}

/* Separator and indentation before a value (or a key) at the current level. */
static void alto_json_before_value_(alto_json_writer *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  ALTO_ASSERT_MSG(w->depth > 0 || w->count[0] == 0, "JSON writer: a second top-level value");
  if (w->depth > 0) {
    if (w->count[w->depth] > 0)
      alto_json_put_(w, ",", 1);
    alto_json_newline_(w, w->depth);
  }
  w->count[w->depth]++;
}

void alto_json_writer_init(alto_json_writer *w, int indent) {
  memset(w, 0, sizeof *w);
  w->indent = indent;
}

void alto_json_writer_free(alto_json_writer *w) {
  free(w->buf);
  memset(w, 0, sizeof *w);
}

char *alto_json_writer_take(alto_json_writer *w, size_t *len) {
  ALTO_ASSERT_MSG(w->depth == 0 && !w->after_key, "JSON writer: unclosed container");
  alto_json_put_(w, "", 0);
  char *s = w->buf;
  if (len)
    *len = w->len;
  int indent = w->indent;
  alto_json_writer_init(w, indent);
  return s;
}

static void alto_json_open_(alto_json_writer *w, const char *c) {
  alto_json_before_value_(w);
  alto_json_puts_(w, c);
  ALTO_ASSERT_MSG(w->depth + 1 < ALTO_JSON_WRITER_MAX_DEPTH, "JSON writer: nesting too deep");
  w->depth++;
  w->count[w->depth] = 0;
}

static void alto_json_close_(alto_json_writer *w, const char *c) {
  ALTO_ASSERT_MSG(w->depth > 0 && !w->after_key, "JSON writer: unbalanced close");
  bool empty = w->count[w->depth] == 0;
  w->depth--;
  if (!empty)
    alto_json_newline_(w, w->depth);
  alto_json_puts_(w, c);
}

void alto_json_begin_object(alto_json_writer *w) {
  alto_json_open_(w, "{");
}
void alto_json_end_object(alto_json_writer *w) {
  alto_json_close_(w, "}");
}
void alto_json_begin_array(alto_json_writer *w) {
  alto_json_open_(w, "[");
}
void alto_json_end_array(alto_json_writer *w) {
  alto_json_close_(w, "]");
}

static void alto_json_quote_(alto_json_writer *w, const char *s, size_t n) {
  alto_json_put_(w, "\"", 1);
  size_t run = 0; /* bytes copied verbatim in one go */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[8];
    if (c == '"')
      esc = "\\\"";
    else if (c == '\\')
      esc = "\\\\";
    else if (c == '\n')
      esc = "\\n";
    else if (c == '\r')
      esc = "\\r";
    else if (c == '\t')
      esc = "\\t";
    else if (c == '\b')
      esc = "\\b";
    else if (c == '\f')
      esc = "\\f";
    else if (c < 0x20 || c == 0x7F) {
      snprintf(u, sizeof u, "\\u%04x", c);
      esc = u;
    }
    if (esc) {
      alto_json_put_(w, s + i - run, run);
      run = 0;
      alto_json_puts_(w, esc);
    } else {
      run++;
    }
  }
  alto_json_put_(w, s + n - run, run);
  alto_json_put_(w, "\"", 1);
}

void alto_json_key(alto_json_writer *w, const char *key) {
  ALTO_ASSERT_MSG(w->depth > 0 && !w->after_key, "JSON writer: key outside an object");
  alto_json_before_value_(w);
  alto_json_quote_(w, key, strlen(key));
  alto_json_put_(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
  w->after_key = true;
}

void alto_json_string_n(alto_json_writer *w, const char *s, size_t n) {
  alto_json_before_value_(w);
  alto_json_quote_(w, s, n);
}

void alto_json_string(alto_json_writer *w, const char *s) {
  alto_json_string_n(w, s, strlen(s));
}

void alto_json_int(alto_json_writer *w, int64_t v) {
  char b[32];
  snprintf(b, sizeof b, "%lld", (long long)v);
  alto_json_before_value_(w);
  alto_json_puts_(w, b);
}

void alto_json_double(alto_json_writer *w, double v) {
  char b[40];
  if (!isfinite(v))
    snprintf(b, sizeof b, "null");
  else
    snprintf(b, sizeof b, "%.17g", v);
  alto_json_before_value_(w);
  alto_json_puts_(w, b);
}

void alto_json_bool(alto_json_writer *w, bool v) {
  alto_json_before_value_(w);
  alto_json_puts_(w, v ? "true" : "false");
}

void alto_json_null(alto_json_writer *w) {
  alto_json_before_value_(w);
  alto_json_puts_(w, "null");
}

void alto_json_value(alto_json_writer *w, const alto_json *v) {
  switch (v->type) {
  case ALTO_JSON_NULL:
    alto_json_null(w);
    break;
  case ALTO_JSON_BOOL:
    alto_json_bool(w, v->boolean);
    break;
  case ALTO_JSON_NUMBER:
    alto_json_before_value_(w);
    alto_json_puts_(w, v->num_text);
    break;
  case ALTO_JSON_STRING:
    alto_json_string_n(w, v->str, v->str_len);
    break;
  case ALTO_JSON_ARRAY:
  case ALTO_JSON_OBJECT:
    if (v->type == ALTO_JSON_ARRAY)
      alto_json_begin_array(w);
    else
      alto_json_begin_object(w);
    for (size_t i = 0; i < v->count; i++) {
      if (v->type == ALTO_JSON_OBJECT) {
        ALTO_ASSERT(w->depth > 0);
        alto_json_before_value_(w);
        alto_json_quote_(w, v->items[i].key, v->items[i].key_len);
        alto_json_put_(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
        w->after_key = true;
      }
      alto_json_value(w, &v->items[i]);
    }
    if (v->type == ALTO_JSON_ARRAY)
      alto_json_end_array(w);
    else
      alto_json_end_object(w);
    break;
  case ALTO_JSON_TYPE_COUNT:
    ALTO_ASSERT(0);
  }
}
