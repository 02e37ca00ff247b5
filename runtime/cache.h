/* The kernel cache (ARCHITECTURE.md stage 7): source -> binary, compiled once per key and kept on
 * disk, with an in-memory map in front. Modeled on DeepGEMM's csrc/jit and Triton's cache.py.
 *
 * Key: SHA-256 (hex) of the cache schema, the generator+templates hash, the full source, the
 * compiler name and version, the arch, the options, and the value of every env var of the
 * registry (base/env.c) flagged `affects_output`. Each field is length-prefixed, so no two
 * different requests can serialize alike.
 *
 * Root: $ALTO_CACHE_DIR, else $XDG_CACHE_HOME/alto, else $HOME/.cache/alto (created like mkdir -p).
 * One directory per key:
 *     <root>/<key[0:2]>/<key>/kernel.cu | kernel.hip      the source
 *                             kernel.cubin | kernel.hsaco the binary
 *                             meta.json                   schema, key, compiler, version, arch,
 *                                                         options, sizes, sha256s, compile ms,
 *                                                         log, registers and spills (ptxas -v)
 * An entry is written into a fresh directory under <root>/tmp/ and published with rename(2). If
 * the final directory exists already (another process won the race), ours is discarded and
 * theirs used: concurrent processes are safe, and a published entry is never modified.
 *
 * Every disk load is validated (meta parses, schema and key match, source and binary sizes and
 * sha256s match). An invalid entry is logged as a warning, renamed to a trash name under
 * <root>/tmp/ and removed (so no reader sees it half-deleted), then rebuilt; it is never loaded.
 * A failed compile is never published: its source and log go to <root>/failed/<key>.{cu,hip,log}
 * for the repro command of the error message.
 *
 * Knobs (Triton's): ALTO_JIT_ALWAYS_COMPILE=1 compiles even on a hit and republishes the entry;
 * ALTO_JIT_DUMP=<dir> also writes every source, log and binary to <dir>;
 * ALTO_JIT_EXTRA_OPTIONS="-a -b" appends options to every compile (and so to the key).
 *
 * Thread-safe. Two threads (or processes) missing the same key may both compile it; one entry
 * wins and both get identical results. */
#ifndef ALTO_RUNTIME_CACHE_H
#define ALTO_RUNTIME_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/sha256.h"
#include "base/status.h"

/* Bumped whenever the layout of an entry or of meta.json changes: old entries then miss. */
#define ALTO_CACHE_SCHEMA 1

typedef enum {
  ALTO_CACHE_CUDA, /* kernel.cu -> kernel.cubin; repro with nvcc */
  ALTO_CACHE_HIP,  /* kernel.hip -> kernel.hsaco; repro with hipcc */
  ALTO_CACHE_KIND_COUNT
} alto_cache_kind;

typedef struct {
  alto_cache_kind kind;
  const char *name;             /* readable kernel name for logs and dump files; may be NULL */
  const char *generator_hash;   /* hash of the generator and templates (caller-defined text) */
  const char *source;           /* the full source, NUL-terminated */
  const char *compiler;         /* "nvrtc", "hiprtc", ... */
  const char *compiler_version; /* "13.0" */
  const char *arch;             /* "sm_90a", "gfx90a" */
  const char *const *options;   /* compiler options, in order (the arch option not needed) */
  int n_options;
} alto_cache_request;

/* What a compile function hands back; the cache takes ownership (free()). */
typedef struct {
  void *binary; /* malloc'd; NULL on failure */
  size_t size;
  char *log; /* malloc'd, NUL-terminated; may be NULL */
} alto_cache_output;

/* Compiles req->source for req->arch with `options` (req's options, then ALTO_JIT_EXTRA_OPTIONS).
 * Returns ALTO_OK with a non-empty binary, or an error (normally ALTO_ERR_COMPILE) with the log;
 * alto_last_error() may say more. Must be callable from several threads at once. */
typedef alto_status (*alto_cache_compile_fn)(void *ctx, const alto_cache_request *req,
                                             const char *const *options, int n_options,
                                             alto_cache_output *out);

typedef enum {
  ALTO_CACHE_COMPILED,   /* compiled by this call */
  ALTO_CACHE_HIT_MEMORY, /* found in this process's map */
  ALTO_CACHE_HIT_DISK,   /* loaded (and validated) from the disk cache */
} alto_cache_origin;

typedef struct {
  char key[ALTO_SHA256_HEX_SIZE];
  alto_cache_origin origin;
  void *binary; /* owned */
  size_t binary_size;
  char binary_sha256[ALTO_SHA256_HEX_SIZE];
  char *log;         /* the compile log, owned ("" when none) */
  double compile_ms; /* of the compile that made the entry */
  /* From ptxas verbose output in the log ("--ptxas-options=-v"); the largest over the kernels of
   * the source; -1 when the log does not say. */
  int registers;
  int spill_stores; /* bytes */
  int spill_loads;  /* bytes */
  char *dir;        /* the entry's directory, owned */
} alto_cache_entry;

/* Returns the binary for `req`: from memory, else from disk, else compile(ctx, ...) and publish.
 * On success *out is filled (free it with alto_cache_entry_free). Errors: ALTO_ERR_IO when the
 * cache directory cannot be created or written (the message names it and ALTO_CACHE_DIR);
 * ALTO_ERR_COMPILE when compile fails, with a message holding the log, a repro command and the
 * source with line numbers (first 200 lines); another status of the compile function
 * (ALTO_ERR_LIBRARY: no compiler; ALTO_ERR_UNSUPPORTED: an arch it cannot target) is returned as
 * is, with its message. On any error *out is empty and nothing is published. */
alto_status alto_cache_get(const alto_cache_request *req, alto_cache_compile_fn compile, void *ctx,
                           alto_cache_entry *out);
void alto_cache_entry_free(alto_cache_entry *e);

/* The key of a request (64 hex digits), as alto_cache_get computes it (env included). */
void alto_cache_key(const alto_cache_request *req, char key[ALTO_SHA256_HEX_SIZE]);

/* The cache root in effect (see above), created if missing; `root` gets the path. ALTO_ERR_IO
 * with the directory and the env var to set when it cannot be created or is not writable. */
alto_status alto_cache_root(char *root, size_t cap);

/* Empties the in-memory map (tests; or to drop binaries no longer needed). */
void alto_cache_memory_clear(void);

/* Counters since the start of the process (tests and `alto-compile` reports). */
typedef struct {
  long memory_hits, disk_hits, compiles, compile_failures;
  long invalid_removed; /* disk entries found invalid, removed and rebuilt */
  long lost_races;      /* our publish found the entry already there: theirs was used */
} alto_cache_stats;
void alto_cache_stats_get(alto_cache_stats *s);

/* Ready compile functions (ctx unused): NVRTC to a cubin with "--gpu-architecture=<arch>"
 * prepended, and hiprtc to a code object for <arch> (checked against its allow-list). */
alto_status alto_cache_compile_nvrtc(void *ctx, const alto_cache_request *req,
                                     const char *const *options, int n_options,
                                     alto_cache_output *out);
alto_status alto_cache_compile_hiprtc(void *ctx, const alto_cache_request *req,
                                      const char *const *options, int n_options,
                                      alto_cache_output *out);

/* Parses ptxas verbose lines of a log ("ptxas info    : Used 40 registers, ...", "8 bytes spill
 * stores, 4 bytes spill loads"): the maximum of each over the kernels, -1 when absent. */
void alto_cache_parse_ptxas(const char *log, int *registers, int *spill_stores, int *spill_loads);

#endif
