#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fileutil.h"

extern char **environ;

long long proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void proc_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int proc_user_for_servers(proc_user *user, pgr_err *err)
{
	struct passwd *pw;

	memset(user, 0, sizeof(*user));
	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		user->switch_user = false;
		user->uid = geteuid();
		user->gid = getegid();
		snprintf(user->name, sizeof(user->name), "%s", pw ? pw->pw_name : "?");
		snprintf(user->home, sizeof(user->home), "%s", pw ? pw->pw_dir : "/tmp");
		return 0;
	}
	pw = getpwnam("postgres");
	if (pw == NULL)
		return pgr_err_set(err, "running as root, but there is no 'postgres' system user to run PostgreSQL as");
	user->switch_user = true;
	user->uid = pw->pw_uid;
	user->gid = pw->pw_gid;
	snprintf(user->name, sizeof(user->name), "%s", pw->pw_name);
	snprintf(user->home, sizeof(user->home), "%s", pw->pw_dir);
	return 0;
}

/* In the child, after fork: become the user. Returns -1 on failure (errno set). */
static int become_user(const proc_user *user)
{
	if (user == NULL || !user->switch_user)
		return 0;
	if (setgroups(0, NULL) != 0 || setgid(user->gid) != 0 || setuid(user->uid) != 0)
		return -1;
	setenv("HOME", user->home, 1);
	setenv("USER", user->name, 1);
	setenv("LOGNAME", user->name, 1);
	return 0;
}

int proc_run(char *const argv[], const proc_user *user, long timeout_ms, char *out, size_t outlen, int *exit_status,
	     pgr_err *err)
{
	int pipefd[2];
	pid_t pid;
	size_t used = 0;
	long long deadline = proc_now_ms() + timeout_ms;
	int status = 0;

	*exit_status = -1;
	if (outlen > 0)
		out[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return pgr_err_set(err, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return pgr_err_set(err, "could not fork to run %s: %s", argv[0], strerror(errno));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (become_user(user) != 0) {
			dprintf(2, "could not switch to user %s: %s\n", user->name, strerror(errno));
			_exit(126);
		}
		execv(argv[0], argv);
		dprintf(2, "could not execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		struct pollfd pfd = { pipefd[0], POLLIN, 0 };
		long long left = deadline - proc_now_ms();
		char chunk[4096];
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pipefd[0]);
			return pgr_err_set(err, "%s did not finish within %ld ms", argv[0], timeout_ms);
		}
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (outlen > 0 && used < outlen - 1) {
			size_t take = (size_t)n < outlen - 1 - used ? (size_t)n : outlen - 1 - used;

			memcpy(out + used, chunk, take);
			used += take;
			out[used] = '\0';
		}
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return 0;
}

unsigned long long proc_start_time(pid_t pid)
{
	char path[64];
	char buf[1024];
	char *p;
	FILE *f;
	size_t n;
	unsigned long long start = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	p++;
	/* after ')' comes field 3 (state); starttime is field 22 */
	for (int field = 3; field < 22 && p != NULL; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL)
		return 0;
	start = strtoull(p + 1, NULL, 10);
	/* a zombie is as good as gone */
	{
		char *state = strrchr(buf, ')');

		if (state && state[1] == ' ' && state[2] == 'Z')
			return 0;
	}
	return start;
}

int proc_pidfile_read(const char *pidfile, pid_t *pid, unsigned long long *start_time)
{
	FILE *f = fopen(pidfile, "r");
	long p = 0;
	unsigned long long st = 0;
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%ld %llu", &p, &st);
	fclose(f);
	if (n < 1 || p <= 0)
		return -1;
	*pid = (pid_t)p;
	if (start_time)
		*start_time = n >= 2 ? st : 0;
	return 0;
}

int proc_pidfile_write(const char *pidfile, pid_t pid, pgr_err *err)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %llu\n", (int)pid, proc_start_time(pid));

	return file_write_durable(pidfile, line, (size_t)n, 0644, err);
}

bool proc_pidfile_alive(const char *pidfile, pid_t *pid)
{
	pid_t p;
	unsigned long long recorded, now;

	if (proc_pidfile_read(pidfile, &p, &recorded) != 0)
		return false;
	now = proc_start_time(p);
	if (now == 0)
		return false;
	if (recorded != 0 && recorded != now)
		return false;
	if (pid)
		*pid = p;
	return true;
}

/*
 * The reaper between a daemon and the rest (see proc_spawn_daemon_reaped): a child subreaper that starts
 * argv, reports its pid on pid_fd, and reaps every process that ends under it until none is left.
 */
static void run_reaper(char *const argv[], int ready_fd, int pid_fd)
{
	pid_t daemon_pid;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		dprintf(ready_fd, "could not become a subreaper: %s", strerror(errno));
		_exit(126);
	}
	(void)prctl(PR_SET_NAME, "pgrefresh-reap");
	/* nothing of the parent's is needed here: only the two pipes stay open (and stdin/out/err) */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != ready_fd && fd != pid_fd)
			close(fd);
	daemon_pid = fork();
	if (daemon_pid < 0) {
		dprintf(ready_fd, "could not fork to start %s: %s", argv[0], strerror(errno));
		_exit(126);
	}
	if (daemon_pid == 0) {
		close(pid_fd);
		execv(argv[0], argv);
		dprintf(ready_fd, "could not execute %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	if (write(pid_fd, &daemon_pid, sizeof(daemon_pid)) != (ssize_t)sizeof(daemon_pid))
		_exit(126);
	close(pid_fd);
	close(ready_fd);
	signal(SIGTERM, SIG_IGN); /* a signal to the session must reach the daemon, not leave its children */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	for (;;) {
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			_exit(0);
	}
}

static int spawn_daemon(char *const argv[], char *const extra_env[], const proc_user *user, const char *log_path,
			const char *pidfile, bool reaped, pid_t *pid, pgr_err *err)
{
	int ready[2], pid_pipe[2] = { -1, -1 };
	pid_t child, daemon_pid;
	char msg[512] = "";
	ssize_t n;

	if (pipe2(ready, O_CLOEXEC) != 0)
		return pgr_err_set(err, "pipe: %s", strerror(errno));
	if (reaped && pipe2(pid_pipe, O_CLOEXEC) != 0) {
		close(ready[0]);
		close(ready[1]);
		return pgr_err_set(err, "pipe: %s", strerror(errno));
	}
	child = fork();
	if (child < 0) {
		close(ready[0]);
		close(ready[1]);
		if (reaped) {
			close(pid_pipe[0]);
			close(pid_pipe[1]);
		}
		return pgr_err_set(err, "could not fork to start %s: %s", argv[0], strerror(errno));
	}
	if (child == 0) {
		int devnull, logfd;

		close(ready[0]);
		if (reaped)
			close(pid_pipe[0]);
		setsid();
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		{
			sigset_t none;

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
		}
		devnull = open("/dev/null", O_RDONLY);
		logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
		if (devnull < 0 || logfd < 0) {
			dprintf(ready[1], "could not open %s: %s", logfd < 0 ? log_path : "/dev/null", strerror(errno));
			_exit(126);
		}
		if (user && user->switch_user)
			(void)fchown(logfd, user->uid, user->gid);
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (devnull > 2)
			close(devnull);
		if (logfd > 2)
			close(logfd);
		if (become_user(user) != 0) {
			dprintf(ready[1], "could not switch to user %s: %s", user->name, strerror(errno));
			_exit(126);
		}
		for (int i = 0; extra_env && extra_env[i]; i++)
			putenv(extra_env[i]);
		if (reaped)
			run_reaper(argv, ready[1], pid_pipe[1]);
		execv(argv[0], argv);
		dprintf(ready[1], "could not execute %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(ready[1]);
	daemon_pid = child;
	if (reaped) {
		close(pid_pipe[1]);
		if (read(pid_pipe[0], &daemon_pid, sizeof(daemon_pid)) != (ssize_t)sizeof(daemon_pid))
			daemon_pid = 0; /* the reaper failed before forking: the ready pipe says why */
		close(pid_pipe[0]);
	}
	/* the pipe closes on exec (success) or carries the reason (failure) */
	n = read(ready[0], msg, sizeof(msg) - 1);
	close(ready[0]);
	if (n > 0 || daemon_pid <= 0) {
		msg[n > 0 ? n : 0] = '\0';
		waitpid(child, NULL, 0); /* the reaper too ends once the failed daemon is gone */
		return pgr_err_set(err, "%s", msg[0] ? msg : "could not start the reaper");
	}
	*pid = daemon_pid;
	if (pidfile != NULL && proc_pidfile_write(pidfile, daemon_pid, err) != 0) {
		kill(daemon_pid, SIGKILL);
		return -1;
	}
	return 0;
}

int proc_spawn_daemon(char *const argv[], char *const extra_env[], const proc_user *user, const char *log_path,
		      const char *pidfile, pid_t *pid, pgr_err *err)
{
	return spawn_daemon(argv, extra_env, user, log_path, pidfile, false, pid, err);
}

int proc_spawn_daemon_reaped(char *const argv[], char *const extra_env[], const proc_user *user, const char *log_path,
			     const char *pidfile, pid_t *pid, pgr_err *err)
{
	return spawn_daemon(argv, extra_env, user, log_path, pidfile, true, pid, err);
}

static bool pid_gone(pid_t pid)
{
	/* reap if it is our child; then ask the kernel */
	(void)waitpid(pid, NULL, WNOHANG);
	return proc_start_time(pid) == 0;
}

int proc_stop_pid(pid_t pid, int sig, long timeout_ms, pgr_err *err)
{
	long long deadline;

	if (pid <= 0 || pid_gone(pid))
		return 0;
	kill(pid, sig);
	deadline = proc_now_ms() + timeout_ms;
	while (proc_now_ms() < deadline) {
		if (pid_gone(pid))
			return 0;
		proc_sleep_ms(50);
	}
	kill(pid, SIGKILL);
	deadline = proc_now_ms() + 5000;
	while (proc_now_ms() < deadline) {
		if (pid_gone(pid))
			return 0;
		proc_sleep_ms(20);
	}
	return pgr_err_set(err, "process %d did not stop even after SIGKILL", (int)pid);
}

int proc_stop_pidfile(const char *pidfile, int sig, long timeout_ms, pgr_err *err)
{
	pid_t pid;

	if (proc_pidfile_alive(pidfile, &pid)) {
		if (proc_stop_pid(pid, sig, timeout_ms, err) != 0)
			return pgr_err_prefix(err, "%s", pidfile);
	}
	unlink(pidfile);
	return 0;
}
