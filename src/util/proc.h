/*
 * proc.h — child processes: run a command and capture its output, start a daemon detached with its
 * output in a log file (as the postgres user when we are root), pidfiles with identity (pid + start
 * time, so a recycled pid is never mistaken for ours), and bounded stops by pid.
 *
 * No fork(): children are started with posix_spawn; what it cannot do (switch to the postgres user,
 * the reaper) a fresh process of this program does, started as "PROGRAM " PROC_HELPER_ARG " ..." and
 * recognised before main() by this module. So any program linking it can start daemons.
 */
#ifndef PGR_UTIL_PROC_H
#define PGR_UTIL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* argv[1] of the spawn helper (internal: never typed by a user) */
#define PROC_HELPER_ARG "__pgrefresh-spawn-helper"

/* Which user children run as: the postgres system user when we are root, else ourselves. */
typedef struct proc_user {
	bool switch_user; /* true when root: setgid/setuid before exec */
	uid_t uid;
	gid_t gid;
	char name[64];
	char home[256];
} proc_user;

/* Fills *user: the "postgres" user if we are root (error if it does not exist), else the current user. */
int proc_user_for_servers(proc_user *user, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Runs argv[0] (a path) with argv, waits at most timeout_ms, captures stdout+stderr into out (NUL-terminated,
 * truncated to outlen-1). *exit_status is the exit code, or -1 if killed by a signal/timeout.
 * Returns -1 only if it could not be started or timed out (err says which).
 */
int proc_run(char *const argv[], const proc_user *user, long timeout_ms, char *out, size_t outlen, int *exit_status,
	     pgr_err *err) __attribute__((warn_unused_result));

/*
 * Starts argv detached (new session), stdin from /dev/null, stdout+stderr appended to log_path,
 * environment extra_env (NULL-terminated "K=V" list, may be NULL) added. Writes the pidfile
 * ("pid starttime\n") durably before returning. *pid receives the child's pid.
 */
int proc_spawn_daemon(char *const argv[], char *const extra_env[], const proc_user *user, const char *log_path,
		      const char *pidfile, pid_t *pid, pgr_err *err) __attribute__((warn_unused_result));
/*
 * The same, with a small reaper process between this process and the daemon ("pgrefresh-reap": a child
 * subreaper). Whatever the daemon starts detached (Patroni's postmaster) is reaped the moment it ends,
 * not whenever PID 1 gets to it: Patroni waits for its stopped postmaster to be gone, and a container's
 * PID 1 may reap late or never. *pid and the pidfile name the daemon itself; the reaper exits once
 * nothing is left under it.
 */
int proc_spawn_daemon_reaped(char *const argv[], char *const extra_env[], const proc_user *user, const char *log_path,
			     const char *pidfile, pid_t *pid, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Starts this program again (/proc/self/exe) with args (args[0]: the name it shows), stdin from
 * /dev/null, stdout and stderr shared with us, in our session: for work that must not block a
 * threaded caller and needs a process of its own. *pid: the child, for the caller to reap.
 */
int proc_spawn_self(char *const args[], pid_t *pid, pgr_err *err) __attribute__((warn_unused_result));

/* The start time of pid (clock ticks since boot, from /proc/pid/stat), or 0 if it does not exist. */
unsigned long long proc_start_time(pid_t pid);

/* Reads a pidfile written by proc_spawn_daemon (or a plain "pid" line). Returns -1 if absent/malformed. */
int proc_pidfile_read(const char *pidfile, pid_t *pid, unsigned long long *start_time);
/* Writes "pid starttime" for the given pid. */
int proc_pidfile_write(const char *pidfile, pid_t pid, pgr_err *err) __attribute__((warn_unused_result));

/* True when the process of the pidfile runs and is the same process (start time matches, if recorded). */
bool proc_pidfile_alive(const char *pidfile, pid_t *pid);

/*
 * Stops the process of pidfile: sig (SIGTERM/SIGINT) then waits up to timeout_ms, then SIGKILL and waits.
 * Removes the pidfile. A pidfile without a living process is just removed. Returns 0 when it is gone.
 */
int proc_stop_pidfile(const char *pidfile, int sig, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));

/* Same for a bare pid (no identity check). */
int proc_stop_pid(pid_t pid, int sig, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));

/* Milliseconds on a monotonic clock, and a sleep. */
long long proc_now_ms(void);
void proc_sleep_ms(long ms);

#endif
