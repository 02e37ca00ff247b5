#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/env.h"

alto_log_level alto_log_threshold(void) {
  static int level = -1;
  if (level < 0) {
    const char *s = alto_env_get(ALTO_ENV_LOG_LEVEL);
    level = ALTO_LOG_INFO;
    if (s) {
      if (strcmp(s, "error") == 0)
        level = ALTO_LOG_ERROR;
      else if (strcmp(s, "warn") == 0)
        level = ALTO_LOG_WARN;
      else if (strcmp(s, "debug") == 0)
        level = ALTO_LOG_DEBUG;
    }
  }
  return (alto_log_level)level;
}

bool alto_log_color(void) {
  return !alto_env_get_bool(ALTO_ENV_NO_COLOR) && isatty(fileno(stderr));
}

void alto_log(alto_log_level level, const char *fmt, ...) {
  static const char *const names[] = {"error", "warning", "info", "debug"};
  static const char *const colors[] = {"\x1b[31m", "\x1b[33m", "\x1b[36m", "\x1b[90m"};
  if (level > alto_log_threshold())
    return;
  bool color = alto_log_color();
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "alto: %s%s%s: %s\n", color ? colors[level] : "", names[level],
          color ? "\x1b[0m" : "", msg);
}
