/* Internals of the kernel cache shared by runtime/cache.c (key, map, get) and
 * runtime/cache_disk.c (files, entries, reports). Not a public API. */
#ifndef ALTO_RUNTIME_CACHE_INTERNAL_H
#define ALTO_RUNTIME_CACHE_INTERNAL_H

#include <stddef.h>

#include "runtime/cache.h"

/* File names inside an entry directory. */
const char *alto_cache_source_file(alto_cache_kind kind); /* "kernel.cu" | "kernel.hip" */
const char *alto_cache_binary_file(alto_cache_kind kind); /* "kernel.cubin" | "kernel.hsaco" */

/* mkdir -p; 0 or an errno. */
int alto_cache_mkdirs(const char *path);
/* Writes a whole file (created 0644, truncated); 0 or an errno. */
int alto_cache_write_file(const char *path, const void *data, size_t len);
/* Removes a directory tree (best effort). */
void alto_cache_remove_tree(const char *path);

/* Writes source, binary and meta.json of an entry into the (empty) directory `dir`; `e` holds
 * the key, binary, log, compile time and ptxas numbers. ALTO_ERR_IO on failure. */
alto_status alto_cache_disk_write(const char *dir, const alto_cache_request *req,
                                  const char *const *options, int n_options,
                                  const alto_cache_entry *e);

typedef enum {
  ALTO_CACHE_DISK_OK,      /* loaded and valid */
  ALTO_CACHE_DISK_ABSENT,  /* no such entry */
  ALTO_CACHE_DISK_INVALID, /* present but invalid: `why` says how */
} alto_cache_disk_result;

/* Loads and validates the entry at `dir` for `req` (whose key is `key`) into *out (origin
 * ALTO_CACHE_HIT_DISK). On INVALID, `why` holds the reason and *out is empty. */
alto_cache_disk_result alto_cache_disk_load(const char *dir, const char *key,
                                            const alto_cache_request *req, alto_cache_entry *out,
                                            char *why, size_t why_cap);

/* Moves `dir` to a unique trash name under <root>/tmp/ and removes it; a concurrent reader sees
 * the whole entry or none of it. 0, or an errno of the rename (ENOENT: someone else did it). */
int alto_cache_disk_discard(const char *root, const char *dir);

/* A unique name "<root>/tmp/<prefix>-<key16>-<pid>-<n>" (not created). */
void alto_cache_tmp_name(const char *root, const char *prefix, const char *key, char *path,
                         size_t cap);

/* Removes what crashed processes left in <root>/tmp/ (entries older than an hour). */
void alto_cache_tmp_sweep(const char *root);

/* ALTO_JIT_DUMP: writes source, log and (when non-NULL) binary to the dump dir; warns on error. */
void alto_cache_dump(const char *dump_dir, const alto_cache_request *req, const char *key,
                     const void *binary, size_t size, const char *log);

/* After a failed compile: saves source and log under <root>/failed/ (when root is non-NULL)
 * and returns the report (malloc'd): what failed, the log, a repro command, and the source with
 * line numbers (first 200 lines). */
char *alto_cache_failure_report(const char *root, const alto_cache_request *req, const char *key,
                                const char *const *options, int n_options, const char *log,
                                const char *why);

#endif
