/*
 * log.h — log lines on stderr: "2026-11-25 16:50:01.123 pg/1 INFO message".
 * The prefix names the unit (or "cli"); the level filters. Output for the user goes to stdout, never here.
 */
#ifndef PGR_UTIL_LOG_H
#define PGR_UTIL_LOG_H

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_QUIET };

/* Settings of this process's log; set once by main. When stderr is systemd's journal ($JOURNAL_STREAM names it),
 * lines carry a "<N>" priority prefix instead of a time stamp (the journal stamps them). */
void log_setup(enum log_level level, const char *prefix, int with_time);
void log_at(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A throttle for a dependency that is down (etcd): the first failure is logged, then at most one line
 * every interval_ms with the number of failures since the last line, and one line when it answers
 * again, saying for how long it was down. Pure (the caller passes the time); the caller locks.
 */
typedef struct log_throttle {
	long long interval_ms; /* at most one line this often while down */
	int down;              /* 1 from the first failure to the next success */
	long long down_since_ms;
	long long last_line_ms;
	long failures_since_line; /* failures not logged since the last line */
	long failures;            /* failures of this outage */
} log_throttle;

enum log_throttle_verdict {
	LOG_THROTTLE_QUIET,     /* say nothing */
	LOG_THROTTLE_FIRST,     /* the first failure of an outage: log it */
	LOG_THROTTLE_REPEAT,    /* still down, interval_ms since the last line: log it with the count */
	LOG_THROTTLE_RECOVERED, /* answered again after an outage: log that, with its length */
};

/*
 * A failure at now_ms. For LOG_THROTTLE_REPEAT, *count is the number of failures this line stands for
 * (those kept quiet since the last line, and this one); *down_ms how long the outage has lasted.
 */
enum log_throttle_verdict log_throttle_failure(log_throttle *t, long long now_ms, long *count, long long *down_ms);
/* A success at now_ms: LOG_THROTTLE_RECOVERED once after an outage (*down_ms, *count: its failures), else QUIET. */
enum log_throttle_verdict log_throttle_success(log_throttle *t, long long now_ms, long *count, long long *down_ms);

#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
