#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void alto_file_release_(alto_file_atomic *f) {
  free(f->path);
  free(f->tmp);
  f->path = f->tmp = NULL;
  f->fd = -1;
}

alto_status alto_file_atomic_begin(alto_file_atomic *f, const char *path) {
  size_t tl = strlen(path) + 32;
  f->path = alto_xstrdup(path);
  f->tmp = alto_xmalloc(tl);
  snprintf(f->tmp, tl, "%s.tmp.%ld", path, (long)getpid());
  f->st = ALTO_OK;
  f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f->fd < 0) {
    f->st = alto_error(ALTO_ERR_IO, "%s: cannot create: %s", f->tmp, strerror(errno));
    alto_file_release_(f);
  }
  return f->st;
}

alto_status alto_file_atomic_write(alto_file_atomic *f, const void *data, size_t n) {
  const char *p = data;
  while (n > 0 && f->st == ALTO_OK) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      f->st = alto_error(ALTO_ERR_IO, "%s: write failed: %s", f->tmp,
                         w < 0 ? strerror(errno) : "no progress");
    else {
      p += w;
      n -= (size_t)w;
    }
  }
  return f->st;
}

void alto_file_atomic_abort(alto_file_atomic *f) {
  if (f->fd >= 0)
    close(f->fd);
  if (f->tmp)
    unlink(f->tmp);
  alto_file_release_(f);
}

alto_status alto_file_atomic_commit(alto_file_atomic *f) {
  alto_status st = f->st;
  if (st == ALTO_OK && fsync(f->fd) != 0)
    st = alto_error(ALTO_ERR_IO, "%s: fsync failed: %s", f->tmp, strerror(errno));
  if (close(f->fd) != 0 && st == ALTO_OK)
    st = alto_error(ALTO_ERR_IO, "%s: close failed: %s", f->tmp, strerror(errno));
  f->fd = -1;
  if (st == ALTO_OK && rename(f->tmp, f->path) != 0)
    st = alto_error(ALTO_ERR_IO, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
  if (st != ALTO_OK) {
    unlink(f->tmp);
    alto_file_release_(f);
    return st;
  }
  /* Make the rename durable: fsync the directory that holds the path. */
  char *dir = f->path;
  char *slash = strrchr(dir, '/');
  const char *d = !slash ? "." : (slash == dir ? "/" : (*slash = '\0', dir));
  int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) != 0)
    st = alto_error(ALTO_ERR_IO, "%s: cannot fsync the directory: %s", d, strerror(errno));
  if (dfd >= 0)
    close(dfd);
  alto_file_release_(f);
  return st;
}

alto_status alto_file_write_atomic(const char *path, const void *data, size_t len) {
  alto_file_atomic f;
  ALTO_TRY(alto_file_atomic_begin(&f, path));
  if (alto_file_atomic_write(&f, data, len) != ALTO_OK) {
    alto_status st = f.st;
    alto_file_atomic_abort(&f);
    return st;
  }
  return alto_file_atomic_commit(&f);
}
