/* Hugging Face safetensors files: read (mmap, fully validated) and write (atomically).
 *
 * Layout: 8-byte little-endian header length N; N bytes of JSON
 *   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * (padded with trailing spaces); then the data section, offsets relative to its start.
 *
 * Validation follows the reference implementation: N <= 100 MB and within the file, the header
 * is a JSON object, every tensor has a known dtype, a shape of non-negative ints and
 * data_offsets [begin, end] with end - begin == numel * dtype size; sorted by begin the tensors
 * tile the data section exactly (no gap, no overlap, nothing left over). Any violation is
 * ALTO_ERR_PARSE with the file name and the tensor; a bad file never crashes the reader.
 */
#ifndef ALTO_RUNTIME_SAFETENSORS_H
#define ALTO_RUNTIME_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum {
  ALTO_ST_BOOL,
  ALTO_ST_U8,
  ALTO_ST_I8,
  ALTO_ST_F8_E4M3,
  ALTO_ST_F8_E5M2,
  ALTO_ST_F8_E8M0,
  ALTO_ST_I16,
  ALTO_ST_U16,
  ALTO_ST_F16,
  ALTO_ST_BF16,
  ALTO_ST_I32,
  ALTO_ST_U32,
  ALTO_ST_F32,
  ALTO_ST_I64,
  ALTO_ST_U64,
  ALTO_ST_F64,
  ALTO_ST_DTYPE_COUNT
} alto_st_dtype;

/* "F32", "BF16", "F8_E4M3", ... as written in the header. */
const char *alto_st_dtype_name(alto_st_dtype d);
/* Bytes per element. */
int alto_st_dtype_size(alto_st_dtype d);
/* Parses a header dtype; on failure an error listing the valid names. */
alto_status alto_st_dtype_parse(const char *name, alto_st_dtype *out);
const char *alto_st_dtype_valid_names(void);

#define ALTO_ST_MAX_DIMS 8
/* The header's size limit (the reference implementation's). */
#define ALTO_ST_MAX_HEADER 100000000ull

typedef struct {
  char *name;
  alto_st_dtype dtype;
  int ndim;
  int64_t shape[ALTO_ST_MAX_DIMS];
  int64_t numel;
  uint64_t begin, end; /* data_offsets, relative to the data section */
  /* The bytes (end - begin of them) inside the mapping. Aligned to 8 when the header length is
   * a multiple of 8 (as every writer pads it); memcpy when unsure. */
  const void *data;
} alto_st_tensor;

typedef struct {
  char *key;
  char *value;
} alto_st_meta;

typedef struct {
  char *path;
  void *map; /* the whole file (mmap), NULL for alto_st_parse */
  size_t map_size;
  alto_st_tensor *tensors; /* in header order */
  size_t count;
  alto_st_meta *meta; /* __metadata__, in header order */
  size_t meta_count;
} alto_st_file;

/* Maps and validates `path`. ALTO_ERR_IO / ALTO_ERR_NOT_FOUND when it cannot be opened,
 * ALTO_ERR_PARSE when it is not a valid safetensors file. Release with alto_st_close. */
alto_status alto_st_open(const char *path, alto_st_file *f);
/* Validates a safetensors image in memory (`bytes` must outlive f; `what` names it in errors). */
alto_status alto_st_parse(const void *bytes, size_t len, const char *what, alto_st_file *f);
void alto_st_close(alto_st_file *f);

/* The tensor called `name`, NULL when none. */
const alto_st_tensor *alto_st_find(const alto_st_file *f, const char *name);
/* A __metadata__ value, NULL when absent. */
const char *alto_st_meta_get(const alto_st_file *f, const char *key);

/* One tensor to write. */
typedef struct {
  const char *name;
  alto_st_dtype dtype;
  int ndim;
  int64_t shape[ALTO_ST_MAX_DIMS];
  const void *data; /* numel * dtype size bytes */
} alto_st_entry;

/* Writes a safetensors file atomically: "<path>.tmp.<pid>", fsync, rename over `path`, fsync the
 * directory; on failure `path` is untouched and the temporary removed. The header lists
 * __metadata__ first (when meta_count > 0), then the tensors in the given order, padded with
 * spaces to a multiple of 8. Names must be unique, non-empty and not "__metadata__". */
alto_status alto_st_write(const char *path, const alto_st_entry *tensors, size_t count,
                          const alto_st_meta *meta, size_t meta_count);

#endif
