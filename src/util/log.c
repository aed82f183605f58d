#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <time.h>

/* The log's settings: the one piece of process-wide state besides signal flags (set once by main). */
static struct {
	enum log_level level;
	char prefix[64];
	int with_time;
	int journal; /* stderr is systemd's journal: a priority prefix, no time stamp (the journal has its own) */
} log_settings = { LOG_LEVEL_INFO, "", 0, 0 };

/* $JOURNAL_STREAM ("DEV:INODE", set by systemd) names stderr's own file: stderr goes to the journal. */
static int stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (stream == NULL || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	dev = strtoull(stream, &end, 10);
	if (end == stream || *end != ':')
		return 0;
	stream = end + 1;
	ino = strtoull(stream, &end, 10);
	if (end == stream || *end != '\0')
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_level level, const char *prefix, int with_time)
{
	log_settings.level = level;
	snprintf(log_settings.prefix, sizeof(log_settings.prefix), "%s", prefix ? prefix : "");
	log_settings.journal = stderr_is_journal();
	log_settings.with_time = with_time && !log_settings.journal;
}

/* sd-daemon(3)'s "<N>" prefix: the syslog priority of the line, read by the journal */
static int journal_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG:
		return 7;
	case LOG_LEVEL_INFO:
		return 6;
	case LOG_LEVEL_WARN:
		return 4;
	default:
		return 3;
	}
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG:
		return "DEBUG";
	case LOG_LEVEL_INFO:
		return "INFO";
	case LOG_LEVEL_WARN:
		return "WARNING";
	case LOG_LEVEL_ERROR:
		return "ERROR";
	default:
		return "";
	}
}

void log_at(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	char stamp[64] = "";
	va_list ap;

	if (level < log_settings.level)
		return;
	if (log_settings.journal)
		snprintf(stamp, sizeof(stamp), "<%d>", journal_priority(level));
	if (log_settings.with_time) {
		struct timeval tv;
		struct tm tm;

		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ld ", (long)(tv.tv_usec / 1000));
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s%s%s: %s\n", stamp, log_settings.prefix, log_settings.prefix[0] ? " " : "",
		level_name(level), line);
}

enum log_throttle_verdict log_throttle_failure(log_throttle *t, long long now_ms, long *count, long long *down_ms)
{
	*count = 0;
	*down_ms = 0;
	if (!t->down) {
		t->down = 1;
		t->down_since_ms = now_ms;
		t->last_line_ms = now_ms;
		t->failures = 1;
		t->failures_since_line = 0;
		*count = 1;
		return LOG_THROTTLE_FIRST;
	}
	t->failures++;
	t->failures_since_line++;
	*down_ms = now_ms - t->down_since_ms;
	if (now_ms - t->last_line_ms < t->interval_ms)
		return LOG_THROTTLE_QUIET;
	*count = t->failures_since_line;
	t->failures_since_line = 0;
	t->last_line_ms = now_ms;
	return LOG_THROTTLE_REPEAT;
}

enum log_throttle_verdict log_throttle_success(log_throttle *t, long long now_ms, long *count, long long *down_ms)
{
	*count = 0;
	*down_ms = 0;
	if (!t->down)
		return LOG_THROTTLE_QUIET;
	*count = t->failures;
	*down_ms = now_ms - t->down_since_ms;
	t->down = 0;
	t->failures = 0;
	t->failures_since_line = 0;
	return LOG_THROTTLE_RECOVERED;
}
