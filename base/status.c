#include "base/status.h"

#include <stdarg.h>
#include <string.h>

static const char *const alto_status_names[] = {
    "ALTO_OK",          "ALTO_ERR_INVALID_ARG", "ALTO_ERR_IO",       "ALTO_ERR_PARSE",
    "ALTO_ERR_UNSUPPORTED", "ALTO_ERR_NOMEM",   "ALTO_ERR_NOT_FOUND", "ALTO_ERR_LIBRARY",
    "ALTO_ERR_DEVICE",  "ALTO_ERR_COMPILE",     "ALTO_ERR_NUMERIC",
};
_Static_assert(sizeof(alto_status_names) / sizeof(alto_status_names[0]) == ALTO_STATUS_COUNT,
               "alto_status_names must name every alto_status");

/* Large enough for a compile failure report (log, repro and 200 numbered source lines). */
static _Thread_local char alto_error_msg[32768];

const char *alto_status_name(alto_status s) {
  if ((unsigned)s >= ALTO_STATUS_COUNT)
    return "ALTO_ERR_UNKNOWN";
  return alto_status_names[s];
}

alto_status alto_error(alto_status code, const char *fmt, ...) {
  /* Format into a scratch buffer first: callers may pass alto_last_error() itself as an
   * argument (wrapping a lower-level message), and vsnprintf must not read what it writes. */
  static _Thread_local char scratch[sizeof alto_error_msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(scratch, sizeof scratch, fmt, ap);
  va_end(ap);
  memcpy(alto_error_msg, scratch, sizeof alto_error_msg);
  return code;
}

const char *alto_last_error(void) { return alto_error_msg; }

void alto_error_clear(void) { alto_error_msg[0] = '\0'; }

void alto_assert_fail(const char *cond, const char *file, int line, const char *msg) {
  fprintf(stderr, "alto: internal error at %s:%d: assertion '%s' failed%s%s\n", file, line, cond,
          msg ? ": " : "", msg ? msg : "");
  fflush(stderr);
  abort();
}

void *alto_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "alto: out of memory allocating %zu bytes\n", n);
    abort();
  }
  return p;
}

void *alto_xcalloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "alto: out of memory allocating %zu x %zu bytes\n", count, size);
    abort();
  }
  return p;
}

void *alto_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "alto: out of memory reallocating %zu bytes\n", n);
    abort();
  }
  return q;
}

char *alto_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = alto_xmalloc(n);
  memcpy(d, s, n);
  return d;
}
