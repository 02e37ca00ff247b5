/* The one registry of environment variables alto reads (STYLE.md: one env-var registry).
 *
 * Every variable is declared once in base/env.c with its default and a description, and
 * docs/env.md lists the same table (a test checks they agree). Code never calls getenv()
 * directly; it asks alto_env_get(ALTO_ENV_...). Variables that change generated code or binaries
 * are flagged `affects_output` so the kernel cache can put them into its key.
 */
#ifndef ALTO_BASE_ENV_H
#define ALTO_BASE_ENV_H

#include <stdbool.h>

typedef enum {
  ALTO_ENV_LOG_LEVEL,          /* error | warn | info | debug */
  ALTO_ENV_NO_COLOR,           /* the NO_COLOR convention */
  ALTO_ENV_NUM_THREADS,        /* CPU worker threads */
  ALTO_ENV_CACHE_DIR,          /* kernel cache root */
  ALTO_ENV_XDG_CACHE_HOME,     /* the XDG base directory for caches */
  ALTO_ENV_HOME,               /* the user's home (cache fallback: ~/.cache/alto) */
  ALTO_ENV_JIT_ALWAYS_COMPILE, /* compile even on a cache hit */
  ALTO_ENV_JIT_DUMP,           /* directory to dump every JIT source, log and binary */
  ALTO_ENV_JIT_EXTRA_OPTIONS,  /* compiler options appended to every JIT compile */
  ALTO_ENV_CUBLASLT_TUNE,      /* time cuBLASLt's candidate algorithms once per GEMM shape */
  ALTO_ENV_COUNT
} alto_env_var;

typedef struct {
  const char *name;        /* "ALTO_LOG_LEVEL" */
  const char *default_val; /* NULL: unset by default */
  bool affects_output;     /* part of the kernel cache key */
  const char *description; /* one line, as in docs/env.md */
} alto_env_info;

const alto_env_info *alto_env_info_get(alto_env_var v);

/* The value, or the default when unset or empty (NULL when neither). */
const char *alto_env_get(alto_env_var v);

/* Integer value; `fallback` when unset; an unparsable value logs a warning and gives `fallback`. */
long alto_env_get_long(alto_env_var v, long fallback);

/* True when set to anything but "", "0", "false", "no", "off". */
bool alto_env_get_bool(alto_env_var v);

#endif
