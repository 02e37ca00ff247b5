/* alto_status: the error codes at every API boundary, with a thread-local message.
 *
 * Two tiers of errors (STYLE.md): a broken invariant is a bug and ALTO_ASSERT aborts with
 * file:line; bad input or a missing resource returns an alto_status whose message says what to
 * fix. alto_error() records the message and returns the code, so call sites read
 *     return alto_error(ALTO_ERR_INVALID_ARG, "%s:%d: unknown scheme '%s' (valid: %s)", ...);
 */
#ifndef ALTO_BASE_STATUS_H
#define ALTO_BASE_STATUS_H

#include <stdio.h>
#include <stdlib.h>

typedef enum {
  ALTO_OK = 0,
  ALTO_ERR_INVALID_ARG, /* a value the user gave is not valid */
  ALTO_ERR_IO,          /* a file could not be read or written */
  ALTO_ERR_PARSE,       /* a recipe, model or data file is malformed */
  ALTO_ERR_UNSUPPORTED, /* a valid request this build or device cannot do */
  ALTO_ERR_NOMEM,       /* an allocation failed */
  ALTO_ERR_NOT_FOUND,   /* a named thing (file, key, module) does not exist */
  ALTO_ERR_LIBRARY,     /* a shared library or symbol could not be loaded */
  ALTO_ERR_DEVICE,      /* a driver or runtime call failed */
  ALTO_ERR_COMPILE,     /* a JIT compile failed */
  ALTO_ERR_NUMERIC,     /* a non-finite value where one is not allowed */
  ALTO_STATUS_COUNT
} alto_status;

/* Name of a status code ("ALTO_ERR_IO"). */
const char *alto_status_name(alto_status s);

/* Records a formatted message for the calling thread and returns `code`. */
alto_status alto_error(alto_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *alto_last_error(void);

/* Clears the message of this thread. */
void alto_error_clear(void);

/* Propagates a non-OK status. */
#define ALTO_TRY(expr)                 \
  do {                                 \
    alto_status alto_try_s_ = (expr);  \
    if (alto_try_s_ != ALTO_OK)        \
      return alto_try_s_;              \
  } while (0)

void alto_assert_fail(const char *cond, const char *file, int line, const char *msg)
    __attribute__((noreturn));

/* A bug, not a user error: prints file:line and aborts. Always on (also in release builds). */
#define ALTO_ASSERT(cond)                                        \
  do {                                                           \
    if (!(cond))                                                 \
      alto_assert_fail(#cond, __FILE__, __LINE__, NULL);         \
  } while (0)
#define ALTO_ASSERT_MSG(cond, msg)                               \
  do {                                                           \
    if (!(cond))                                                 \
      alto_assert_fail(#cond, __FILE__, __LINE__, (msg));        \
  } while (0)

/* Allocation helpers that abort on failure (out of memory is not recoverable here) */
void *alto_xmalloc(size_t n);
void *alto_xcalloc(size_t count, size_t size);
void *alto_xrealloc(void *p, size_t n);
char *alto_xstrdup(const char *s);

#endif
