/* A small logger: leveled messages to stderr, colored unless NO_COLOR or not a terminal. */
#ifndef ALTO_BASE_LOG_H
#define ALTO_BASE_LOG_H

#include <stdbool.h>

typedef enum { ALTO_LOG_ERROR, ALTO_LOG_WARN, ALTO_LOG_INFO, ALTO_LOG_DEBUG } alto_log_level;

void alto_log(alto_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The level in effect (from ALTO_LOG_LEVEL, read once). */
alto_log_level alto_log_threshold(void);

/* True when stderr should get ANSI colors. */
bool alto_log_color(void);

#define alto_log_error(...) alto_log(ALTO_LOG_ERROR, __VA_ARGS__)
#define alto_log_warn(...) alto_log(ALTO_LOG_WARN, __VA_ARGS__)
#define alto_log_info(...) alto_log(ALTO_LOG_INFO, __VA_ARGS__)
#define alto_log_debug(...) alto_log(ALTO_LOG_DEBUG, __VA_ARGS__)

#endif
