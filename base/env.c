#include "base/env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/status.h"

static const alto_env_info alto_env_table[] = {
    [ALTO_ENV_LOG_LEVEL] = {"ALTO_LOG_LEVEL", "info", false,
                            "log verbosity: error, warn, info or debug"},
    [ALTO_ENV_NO_COLOR] = {"NO_COLOR", NULL, false,
                           "when set (to anything), no ANSI colors in output (no-color.org)"},
    [ALTO_ENV_NUM_THREADS] = {"ALTO_NUM_THREADS", NULL, false,
                              "CPU worker threads (default: the number of online cores)"},
    [ALTO_ENV_CACHE_DIR] = {"ALTO_CACHE_DIR", NULL, false,
                            "kernel cache directory (default: $XDG_CACHE_HOME/alto, else "
                            "$HOME/.cache/alto)"},
    [ALTO_ENV_XDG_CACHE_HOME] = {"XDG_CACHE_HOME", NULL, false,
                                 "XDG base directory for caches; alto uses $XDG_CACHE_HOME/alto"},
    [ALTO_ENV_HOME] = {"HOME", NULL, false,
                       "home directory; the cache falls back to $HOME/.cache/alto"},
    [ALTO_ENV_JIT_ALWAYS_COMPILE] = {"ALTO_JIT_ALWAYS_COMPILE", NULL, false,
                                     "when 1, JIT-compile even on a cache hit and republish the "
                                     "entry"},
    [ALTO_ENV_JIT_DUMP] = {"ALTO_JIT_DUMP", NULL, false,
                           "directory where every JIT source, compile log and binary is also "
                           "written"},
    [ALTO_ENV_JIT_EXTRA_OPTIONS] = {"ALTO_JIT_EXTRA_OPTIONS", NULL, true,
                                    "compiler options (space-separated) appended to every JIT "
                                    "compile, e.g. -lineinfo"},
    [ALTO_ENV_CUBLASLT_TUNE] = {"ALTO_CUBLASLT_TUNE", "1", false,
                                "when 1, each cuBLASLt GEMM configuration times the heuristic's "
                                "candidate algorithms that give its first choice's bits on its "
                                "first call, and keeps the fastest; 0: the first choice"},
};
_Static_assert(sizeof(alto_env_table) / sizeof(alto_env_table[0]) == ALTO_ENV_COUNT,
               "alto_env_table must describe every alto_env_var");

const alto_env_info *alto_env_info_get(alto_env_var v) {
  ALTO_ASSERT((unsigned)v < ALTO_ENV_COUNT);
  return &alto_env_table[v];
}

const char *alto_env_get(alto_env_var v) {
  const alto_env_info *info = alto_env_info_get(v);
  const char *s = getenv(info->name);
  if (s && *s)
    return s;
  if (v == ALTO_ENV_NO_COLOR && s)
    return s; /* NO_COLOR: present means on, even when empty */
  return info->default_val;
}

long alto_env_get_long(alto_env_var v, long fallback) {
  const char *s = alto_env_get(v);
  if (!s)
    return fallback;
  char *end = NULL;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (errno || end == s || *end) {
    alto_log_warn("%s='%s' is not an integer; using %ld", alto_env_info_get(v)->name, s, fallback);
    return fallback;
  }
  return x;
}

bool alto_env_get_bool(alto_env_var v) {
  const char *s = alto_env_get(v);
  if (!s)
    return false;
  if (v == ALTO_ENV_NO_COLOR)
    return true;
  return !(strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
           strcasecmp(s, "off") == 0 || *s == '\0');
}
