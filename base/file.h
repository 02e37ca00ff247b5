/* Files written atomically: to "<path>.tmp.<pid>", fsynced, renamed over <path>, and the directory
 * fsynced, so a reader sees the old file or the whole new one, never a torn one (checkpoints,
 * shards, safetensors). On any error the temporary is removed and <path> is untouched. */
#ifndef ALTO_BASE_FILE_H
#define ALTO_BASE_FILE_H

#include <stddef.h>

#include "base/status.h"

typedef struct {
  char *path; /* the destination */
  char *tmp;  /* the temporary being written */
  int fd;
  alto_status st; /* the first error; later calls do nothing */
} alto_file_atomic;

/* Creates the temporary. */
alto_status alto_file_atomic_begin(alto_file_atomic *f, const char *path);
/* Appends n bytes (retrying short writes and EINTR). */
alto_status alto_file_atomic_write(alto_file_atomic *f, const void *data, size_t n);
/* fsync, close, rename, fsync the directory; on error removes the temporary. Frees f's strings. */
alto_status alto_file_atomic_commit(alto_file_atomic *f);
/* Gives up: removes the temporary, frees f's strings. */
void alto_file_atomic_abort(alto_file_atomic *f);

/* The whole of `data` to `path`, atomically. */
alto_status alto_file_write_atomic(const char *path, const void *data, size_t len);

#endif
