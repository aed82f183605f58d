/*
 * log.h — log lines on stderr: "2026-11-25 16:50:01.123 pg/1 INFO message".
 * The prefix names the unit (or "cli"); the level filters. Output for the user goes to stdout, never here.
 */
#ifndef PGR_UTIL_LOG_H
#define PGR_UTIL_LOG_H

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_QUIET };

/* Settings of this process's log; set once by main. */
void log_setup(enum log_level level, const char *prefix, int with_time);
void log_at(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
