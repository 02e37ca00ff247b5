#include "runtime/safetensors.h"

#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"

static const struct {
  const char *name;
  int size;
} alto_st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},
};
_Static_assert(sizeof alto_st_dtypes / sizeof alto_st_dtypes[0] == ALTO_ST_DTYPE_COUNT,
               "alto_st_dtypes must name every dtype");

const char *alto_st_dtype_name(alto_st_dtype d) {
  ALTO_ASSERT((unsigned)d < ALTO_ST_DTYPE_COUNT);
  return alto_st_dtypes[d].name;
}

int alto_st_dtype_size(alto_st_dtype d) {
  ALTO_ASSERT((unsigned)d < ALTO_ST_DTYPE_COUNT);
  return alto_st_dtypes[d].size;
}

const char *alto_st_dtype_valid_names(void) {
  static char buf[256];
  if (!buf[0])
    for (int i = 0; i < ALTO_ST_DTYPE_COUNT; i++) {
      if (i)
        strcat(buf, ", ");
      strcat(buf, alto_st_dtypes[i].name);
    }
  return buf;
}

alto_status alto_st_dtype_parse(const char *name, alto_st_dtype *out) {
  for (int i = 0; i < ALTO_ST_DTYPE_COUNT; i++)
    if (strcmp(name, alto_st_dtypes[i].name) == 0) {
      *out = (alto_st_dtype)i;
      return ALTO_OK;
    }
  return alto_error(ALTO_ERR_INVALID_ARG, "unknown dtype '%s' (valid: %s)", name,
                    alto_st_dtype_valid_names());
}

/* ---- reader ---------------------------------------------------------------------------------- */

static alto_status alto_st_bad_(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static alto_status alto_st_bad_(const char *what, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return alto_error(ALTO_ERR_PARSE, "%s: not a valid safetensors file: %s", what, msg);
}

/* A non-negative JSON integer, or -1. */
static int64_t alto_st_uint_(const alto_json *v) {
  if (!v || v->type != ALTO_JSON_NUMBER || !v->is_int || v->i64 < 0)
    return -1;
  return v->i64;
}

static alto_status alto_st_parse_tensor_(const char *what, const alto_json *j, alto_st_tensor *t) {
  const char *name = j->key;
  if (j->type != ALTO_JSON_OBJECT)
    return alto_st_bad_(what, "tensor '%s': expected an object with dtype, shape, data_offsets",
                        name);
  const alto_json *dt = alto_json_get(j, "dtype");
  if (!dt)
    return alto_st_bad_(what, "tensor '%s': missing \"dtype\"", name);
  if (dt->type != ALTO_JSON_STRING)
    return alto_st_bad_(what, "tensor '%s': \"dtype\" must be a string", name);
  if (alto_st_dtype_parse(dt->str, &t->dtype) != ALTO_OK)
    return alto_st_bad_(what, "tensor '%s': unknown dtype '%s' (valid: %s)", name, dt->str,
                        alto_st_dtype_valid_names());
  const alto_json *shape = alto_json_get_type(j, "shape", ALTO_JSON_ARRAY);
  if (!shape)
    return alto_st_bad_(what, "tensor '%s': missing or non-array \"shape\"", name);
  if (shape->count > ALTO_ST_MAX_DIMS)
    return alto_st_bad_(what, "tensor '%s': %zu dims (at most %d supported)", name, shape->count,
                        ALTO_ST_MAX_DIMS);
  t->ndim = (int)shape->count;
  uint64_t numel = 1;
  bool overflow = false;
  for (int d = 0; d < t->ndim; d++) {
    int64_t n = alto_st_uint_(&shape->items[d]);
    if (n < 0)
      return alto_st_bad_(what, "tensor '%s': shape[%d] is not a non-negative integer", name, d);
    t->shape[d] = n;
    if (n && numel > UINT64_MAX / 2 / 8 / (uint64_t)n)
      overflow = true;
    numel *= (uint64_t)n;
  }
  const alto_json *off = alto_json_get_type(j, "data_offsets", ALTO_JSON_ARRAY);
  if (!off || off->count != 2)
    return alto_st_bad_(what, "tensor '%s': missing \"data_offsets\" [begin, end]", name);
  int64_t b = alto_st_uint_(&off->items[0]), e = alto_st_uint_(&off->items[1]);
  if (b < 0 || e < 0 || e < b)
    return alto_st_bad_(what, "tensor '%s': data_offsets must be integers with 0 <= begin <= end",
                        name);
  t->begin = (uint64_t)b;
  t->end = (uint64_t)e;
  if (overflow || (uint64_t)(e - b) != numel * (uint64_t)alto_st_dtype_size(t->dtype))
    return alto_st_bad_(what,
                        "tensor '%s': data_offsets span %lld bytes but shape x %s needs %llu "
                        "(wrong byte size for the shape)",
                        name, (long long)(e - b), alto_st_dtype_name(t->dtype),
                        overflow ? 0ull
                                 : (unsigned long long)(numel * alto_st_dtype_size(t->dtype)));
  t->numel = (int64_t)numel;
  for (const alto_json *k = j->items; k < j->items + j->count; k++)
    if (strcmp(k->key, "dtype") && strcmp(k->key, "shape") && strcmp(k->key, "data_offsets"))
      return alto_st_bad_(what, "tensor '%s': unknown field \"%s\"", name, k->key);
  return ALTO_OK;
}

static int alto_st_cmp_begin_(const void *a, const void *b) {
  const alto_st_tensor *x = *(const alto_st_tensor *const *)a;
  const alto_st_tensor *y = *(const alto_st_tensor *const *)b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : (x->end > y->end);
}

/* Sorted by begin, the tensors must tile [0, data_len) exactly. */
static alto_status alto_st_check_tiling_(const char *what, const alto_st_file *f,
                                         uint64_t data_len) {
  const alto_st_tensor **s = alto_xmalloc((f->count ? f->count : 1) * sizeof *s);
  for (size_t i = 0; i < f->count; i++)
    s[i] = &f->tensors[i];
  qsort(s, f->count, sizeof *s, alto_st_cmp_begin_);
  uint64_t at = 0;
  alto_status st = ALTO_OK;
  for (size_t i = 0; i < f->count && st == ALTO_OK; i++) {
    if (s[i]->begin < at)
      st = alto_st_bad_(what, "tensor '%s' [%llu, %llu) overlaps tensor '%s' (ends at %llu)",
                        s[i]->name, (unsigned long long)s[i]->begin, (unsigned long long)s[i]->end,
                        s[i - 1]->name, (unsigned long long)at);
    else if (s[i]->begin > at)
      st = alto_st_bad_(what,
                        "gap in the data section before tensor '%s' (begins at %llu, "
                        "previous data ends at %llu)",
                        s[i]->name, (unsigned long long)s[i]->begin, (unsigned long long)at);
    else if (s[i]->end > data_len)
      st = alto_st_bad_(what,
                        "tensor '%s': data_offsets [%llu, %llu) out of range (the data section "
                        "has %llu bytes; truncated file?)",
                        s[i]->name, (unsigned long long)s[i]->begin, (unsigned long long)s[i]->end,
                        (unsigned long long)data_len);
    at = s[i]->end;
  }
  if (st == ALTO_OK && at != data_len)
    st = alto_st_bad_(what, "the header describes %llu bytes of data but the file has %llu",
                      (unsigned long long)at, (unsigned long long)data_len);
  free(s);
  return st;
}

static alto_status alto_st_parse_header_(const char *what, const alto_json *h, alto_st_file *f) {
  if (h->type != ALTO_JSON_OBJECT)
    return alto_st_bad_(what, "the header is a JSON %s, not an object",
                        alto_json_type_name(h->type));
  f->tensors = alto_xcalloc(h->count ? h->count : 1, sizeof *f->tensors);
  for (const alto_json *m = h->items; m < h->items + h->count; m++) {
    if (strcmp(m->key, "__metadata__") == 0) {
      if (m->type != ALTO_JSON_OBJECT)
        return alto_st_bad_(what, "\"__metadata__\" must be an object of strings");
      f->meta = alto_xcalloc(m->count ? m->count : 1, sizeof *f->meta);
      for (const alto_json *kv = m->items; kv < m->items + m->count; kv++) {
        if (kv->type != ALTO_JSON_STRING)
          return alto_st_bad_(what, "\"__metadata__\".\"%s\" must be a string (is %s)", kv->key,
                              alto_json_type_name(kv->type));
        f->meta[f->meta_count].key = alto_xstrdup(kv->key);
        f->meta[f->meta_count].value = alto_xstrdup(kv->str);
        f->meta_count++;
      }
      continue;
    }
    alto_st_tensor *t = &f->tensors[f->count++];
    t->name = alto_xstrdup(m->key);
    ALTO_TRY(alto_st_parse_tensor_(what, m, t));
  }
  return ALTO_OK;
}

alto_status alto_st_parse(const void *bytes, size_t len, const char *what, alto_st_file *f) {
  memset(f, 0, sizeof *f);
  const unsigned char *p = bytes;
  if (len < 8)
    return alto_st_bad_(what, "file has %zu bytes; it must start with an 8-byte header length",
                        len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | p[i];
  if (n > ALTO_ST_MAX_HEADER)
    return alto_st_bad_(what, "header length %llu exceeds the limit of %llu bytes",
                        (unsigned long long)n, ALTO_ST_MAX_HEADER);
  if (n > len - 8)
    return alto_st_bad_(what, "header length %llu is larger than the rest of the file (%zu bytes)",
                        (unsigned long long)n, len - 8);
  if (n < 2 || p[8] != '{')
    return alto_st_bad_(what, "the header does not start with '{' (not a safetensors file?)");
  alto_json *h = NULL;
  alto_json_limits lim = {.max_depth = 8, .max_size = ALTO_ST_MAX_HEADER};
  char where[1100];
  snprintf(where, sizeof where, "%s: header", what);
  /* The header may be padded with spaces: JSON allows trailing whitespace. */
  if (alto_json_parse((const char *)p + 8, (size_t)n, where, &lim, &h) != ALTO_OK) {
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", alto_last_error());
    return alto_st_bad_(what, "the header is not valid JSON: %s", msg);
  }
  f->path = alto_xstrdup(what);
  alto_status st = alto_st_parse_header_(what, h, f);
  alto_json_free(h);
  if (st == ALTO_OK)
    st = alto_st_check_tiling_(what, f, len - 8 - n);
  if (st != ALTO_OK) {
    alto_st_close(f);
    return st;
  }
  for (size_t i = 0; i < f->count; i++)
    f->tensors[i].data = p + 8 + n + f->tensors[i].begin;
  return ALTO_OK;
}

alto_status alto_st_open(const char *path, alto_st_file *f) {
  memset(f, 0, sizeof *f);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return alto_error(errno == ENOENT ? ALTO_ERR_NOT_FOUND : ALTO_ERR_IO, "%s: cannot open: %s",
                      path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int e = errno;
    close(fd);
    return alto_error(ALTO_ERR_IO, "%s: %s", path, e ? strerror(e) : "not a regular file");
  }
  size_t size = (size_t)sb.st_size;
  void *map = NULL;
  if (size > 0) {
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int e = errno;
      close(fd);
      return alto_error(ALTO_ERR_IO, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
    }
  }
  close(fd);
  alto_status st = alto_st_parse(map ? map : "", size, path, f);
  if (st != ALTO_OK) {
    if (map)
      munmap(map, size);
    return st;
  }
  f->map = map;
  f->map_size = size;
  return ALTO_OK;
}

void alto_st_close(alto_st_file *f) {
  for (size_t i = 0; i < f->count; i++)
    free(f->tensors[i].name);
  free(f->tensors);
  for (size_t i = 0; i < f->meta_count; i++) {
    free(f->meta[i].key);
    free(f->meta[i].value);
  }
  free(f->meta);
  free(f->path);
  if (f->map)
    munmap(f->map, f->map_size);
  memset(f, 0, sizeof *f);
}

const alto_st_tensor *alto_st_find(const alto_st_file *f, const char *name) {
  for (size_t i = 0; i < f->count; i++)
    if (strcmp(f->tensors[i].name, name) == 0)
      return &f->tensors[i];
  return NULL;
}

const char *alto_st_meta_get(const alto_st_file *f, const char *key) {
  for (size_t i = 0; i < f->meta_count; i++)
    if (strcmp(f->meta[i].key, key) == 0)
      return f->meta[i].value;
  return NULL;
}

/* ---- writer ---------------------------------------------------------------------------------- */


/* The header JSON (padded to 8) and the data size; validates the entries. */
static alto_status alto_st_header_(const char *path, const alto_st_entry *t, size_t count,
                                   const alto_st_meta *meta, size_t meta_count, char **out,
                                   size_t *out_len, uint64_t *data_len) {
  for (size_t i = 0; i < count; i++) {
    if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0)
      return alto_error(ALTO_ERR_INVALID_ARG, "%s: tensor %zu has an invalid name '%s'", path, i,
                        t[i].name ? t[i].name : "(null)");
    if ((unsigned)t[i].dtype >= ALTO_ST_DTYPE_COUNT || t[i].ndim < 0 ||
        t[i].ndim > ALTO_ST_MAX_DIMS)
      return alto_error(ALTO_ERR_INVALID_ARG, "%s: tensor '%s': bad dtype or ndim", path,
                        t[i].name);
    for (size_t k = 0; k < i; k++)
      if (strcmp(t[i].name, t[k].name) == 0)
        return alto_error(ALTO_ERR_INVALID_ARG, "%s: duplicate tensor name '%s'", path, t[i].name);
  }
  alto_json_writer w;
  alto_json_writer_init(&w, 0);
  alto_json_begin_object(&w);
  if (meta_count) {
    alto_json_key(&w, "__metadata__");
    alto_json_begin_object(&w);
    for (size_t i = 0; i < meta_count; i++) {
      alto_json_key(&w, meta[i].key);
      alto_json_string(&w, meta[i].value);
    }
    alto_json_end_object(&w);
  }
  uint64_t at = 0;
  for (size_t i = 0; i < count; i++) {
    uint64_t nbytes = (uint64_t)alto_st_dtype_size(t[i].dtype);
    for (int d = 0; d < t[i].ndim; d++) {
      ALTO_ASSERT(t[i].shape[d] >= 0);
      nbytes *= (uint64_t)t[i].shape[d];
    }
    alto_json_key(&w, t[i].name);
    alto_json_begin_object(&w);
    alto_json_key(&w, "dtype");
    alto_json_string(&w, alto_st_dtype_name(t[i].dtype));
    alto_json_key(&w, "shape");
    alto_json_begin_array(&w);
    for (int d = 0; d < t[i].ndim; d++)
      alto_json_int(&w, t[i].shape[d]);
    alto_json_end_array(&w);
    alto_json_key(&w, "data_offsets");
    alto_json_begin_array(&w);
    alto_json_int(&w, (int64_t)at);
    alto_json_int(&w, (int64_t)(at + nbytes));
    alto_json_end_array(&w);
    alto_json_end_object(&w);
    at += nbytes;
  }
  alto_json_end_object(&w);
  size_t len;
  char *s = alto_json_writer_take(&w, &len);
  size_t padded = (len + 7) & ~(size_t)7;
  s = alto_xrealloc(s, padded + 1);
  memset(s + len, ' ', padded - len);
  s[padded] = '\0';
  *out = s;
  *out_len = padded;
  *data_len = at;
  return ALTO_OK;
}

alto_status alto_st_write(const char *path, const alto_st_entry *tensors, size_t count,
                          const alto_st_meta *meta, size_t meta_count) {
  char *hdr;
  size_t hlen;
  uint64_t data_len;
  ALTO_TRY(alto_st_header_(path, tensors, count, meta, meta_count, &hdr, &hlen, &data_len));
  (void)data_len;
  alto_file_atomic f;
  alto_status st = alto_file_atomic_begin(&f, path);
  if (st != ALTO_OK) {
    free(hdr);
    return st;
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  alto_file_atomic_write(&f, len8, 8);
  alto_file_atomic_write(&f, hdr, hlen);
  for (size_t i = 0; i < count && f.st == ALTO_OK; i++) {
    size_t nbytes = (size_t)alto_st_dtype_size(tensors[i].dtype);
    for (int d = 0; d < tensors[i].ndim; d++)
      nbytes *= (size_t)tensors[i].shape[d];
    if (nbytes)
      alto_file_atomic_write(&f, tensors[i].data, nbytes);
  }
  free(hdr);
  if (f.st != ALTO_OK) {
    st = f.st;
    alto_file_atomic_abort(&f);
    return st;
  }
  return alto_file_atomic_commit(&f);
}
