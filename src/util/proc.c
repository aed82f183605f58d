#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
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

/*
 * Starting processes without fork(): the agent has threads, and a forked child of a threaded process
 * may only call async-signal-safe functions. posix_spawn (glibc: clone with CLONE_VFORK, nothing of
 * ours runs in the child) does the session, the signal mask and dispositions, stdin/stdout/stderr
 * and the environment. What posix_spawn cannot do (drop root for the postgres user, the reaper) is
 * done by a fresh process of this very program, re-executed as the spawn helper: a process image of
 * its own, one thread, where setuid and fork are safe. The helper is recognised before main() (a
 * constructor, below), so every program that links this module (pgrefresh, the tests) can be it.
 *
 *   /proc/self/exe __pgrefresh-spawn-helper MODE ERRFD PIDFD UID GID -- ARGV...
 *     MODE exec: become UID:GID (when not "-"), then exec ARGV
 *     MODE reap: the same, then be the reaper of ARGV (run_reaper)
 *     ERRFD: where to write why it failed (it is close-on-exec: closed when ARGV runs); PIDFD: reap only
 */

/* The helper, after exec: become the user. Returns -1 on failure (errno set). */
static int become_ids(const char *uid, const char *gid)
{
	char *end;
	unsigned long u, g;

	if (strcmp(uid, "-") == 0)
		return 0;
	errno = 0;
	u = strtoul(uid, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	g = strtoul(gid, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	if (setgroups(0, NULL) != 0 || setgid((gid_t)g) != 0 || setuid((uid_t)u) != 0)
		return -1;
	return 0;
}

static void run_reaper(char *const argv[], int ready_fd, int pid_fd);

static int fd_arg(const char *s)
{
	char *end;
	long v;

	if (strcmp(s, "-") == 0)
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 0 && v < 1024 ? (int)v : -1;
}

static void helper_main(int argc, char **argv)
{
	int errfd, pidfd;

	if (argc < 9 || strcmp(argv[7], "--") != 0)
		_exit(125);
	errfd = fd_arg(argv[3]);
	pidfd = fd_arg(argv[4]);
	if (errfd < 0)
		errfd = 2;
	if (errfd > 2)
		(void)fcntl(errfd, F_SETFD, FD_CLOEXEC);
	if (pidfd >= 0)
		(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	if (become_ids(argv[5], argv[6]) != 0) {
		dprintf(errfd, "could not switch to uid %s gid %s: %s\n", argv[5], argv[6], strerror(errno));
		_exit(126);
	}
	if (strcmp(argv[2], "reap") == 0 && pidfd >= 0)
		run_reaper(argv + 8, errfd, pidfd);
	execv(argv[8], argv + 8);
	dprintf(errfd, "could not execute %s: %s\n", argv[8], strerror(errno));
	_exit(127);
}

/* glibc passes main's arguments to constructors: the spawn helper never reaches main(). */
__attribute__((constructor)) static void proc_helper_ctor(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc >= 2 && argv != NULL && argv[1] != NULL && strcmp(argv[1], PROC_HELPER_ARG) == 0)
		helper_main(argc, argv);
}

/*
 * The path to execute this program again: what /proc/self/exe names (under valgrind that link is
 * valgrind itself, but readlink answers with the program), or the link itself when the file was
 * replaced since we started ("... (deleted)": the link still reaches the running image).
 */
static void self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	static const char deleted[] = " (deleted)";

	if (n > 0 && (size_t)n < len - 1) {
		buf[n] = '\0';
		if (!((size_t)n > strlen(deleted) && strcmp(buf + n - strlen(deleted), deleted) == 0) &&
		    access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, len, "/proc/self/exe");
}

/* An environment for a child: ours, with extra_env ("K=V") and the user's HOME/USER/LOGNAME over it. */
struct spawn_env {
	char **envp; /* heap array of pointers into environ, extra_env and the buffers below */
	char home[300];
	char user[80];
	char logname[80];
};

static bool env_overridden(const char *entry, char *const over[], int nover)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);

	for (int i = 0; i < nover; i++) {
		if (over[i] != NULL && strncmp(over[i], entry, n) == 0 && over[i][n] == '=')
			return true;
	}
	return false;
}

static int env_build(struct spawn_env *e, char *const extra_env[], const proc_user *user, pgr_err *err)
{
	char *over[64];
	int nover = 0, nenv = 0, k = 0;

	for (int i = 0; extra_env && extra_env[i] && nover < 60; i++)
		over[nover++] = extra_env[i];
	if (user && user->switch_user) {
		snprintf(e->home, sizeof(e->home), "HOME=%s", user->home);
		snprintf(e->user, sizeof(e->user), "USER=%s", user->name);
		snprintf(e->logname, sizeof(e->logname), "LOGNAME=%s", user->name);
		over[nover++] = e->home;
		over[nover++] = e->user;
		over[nover++] = e->logname;
	}
	while (environ && environ[nenv])
		nenv++;
	e->envp = calloc((size_t)(nenv + nover + 1), sizeof(char *));
	if (e->envp == NULL)
		return pgr_err_set(err, "out of memory building a child's environment");
	for (int i = 0; i < nenv; i++) {
		if (!env_overridden(environ[i], over, nover))
			e->envp[k++] = environ[i];
	}
	for (int i = 0; i < nover; i++)
		e->envp[k++] = over[i];
	e->envp[k] = NULL;
	return 0;
}

/* fd duplicated at 10 or above, close-on-exec: a file action's dup2 source never collides with 0..4. */
static int high_fd(int fd)
{
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return hi;
}

/*
 * The helper's argv for cmd: [exe, PROC_HELPER_ARG, mode, errfd, pidfd, uid, gid, "--", cmd...].
 * bufs holds the numbers. Heap array; the caller frees it (not the strings).
 */
struct helper_argv {
	char **argv;
	char errfd[16], pidfd[16], uid[24], gid[24];
	char exe[PATH_MAX];
};

static int helper_argv_build(struct helper_argv *h, const char *mode, int errfd, int pidfd, const proc_user *user,
			     char *const cmd[], pgr_err *err)
{
	int n = 0, k = 0;

	while (cmd[n])
		n++;
	h->argv = calloc((size_t)(n + 9), sizeof(char *));
	if (h->argv == NULL)
		return pgr_err_set(err, "out of memory starting %s", cmd[0]);
	snprintf(h->errfd, sizeof(h->errfd), "%d", errfd);
	if (pidfd >= 0)
		snprintf(h->pidfd, sizeof(h->pidfd), "%d", pidfd);
	else
		snprintf(h->pidfd, sizeof(h->pidfd), "-");
	if (user && user->switch_user) {
		snprintf(h->uid, sizeof(h->uid), "%u", (unsigned)user->uid);
		snprintf(h->gid, sizeof(h->gid), "%u", (unsigned)user->gid);
	} else {
		snprintf(h->uid, sizeof(h->uid), "-");
		snprintf(h->gid, sizeof(h->gid), "-");
	}
	self_exe(h->exe, sizeof(h->exe));
	h->argv[k++] = h->exe;
	h->argv[k++] = PROC_HELPER_ARG;
	h->argv[k++] = (char *)mode;
	h->argv[k++] = h->errfd;
	h->argv[k++] = h->pidfd;
	h->argv[k++] = h->uid;
	h->argv[k++] = h->gid;
	h->argv[k++] = "--";
	for (int i = 0; i < n; i++)
		h->argv[k++] = cmd[i];
	h->argv[k] = NULL;
	return 0;
}

/* Signals a child starts with at their default action (the agent ignores SIGPIPE, catches SIGTERM). */
static void spawn_attr_signals(posix_spawnattr_t *attr, short extra_flags)
{
	sigset_t none, defaults;
	int sigs[] = { SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };

	sigemptyset(&none);
	sigemptyset(&defaults);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&defaults, sigs[i]);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &defaults);
	posix_spawnattr_setflags(attr, (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | extra_flags));
}

int proc_run(char *const argv[], const proc_user *user, long timeout_ms, char *out, size_t outlen, int *exit_status,
	     pgr_err *err)
{
	int pipefd[2], devnull;
	pid_t pid;
	size_t used = 0;
	long long deadline = proc_now_ms() + timeout_ms;
	int status = 0, rc;
	bool helper = user != NULL && user->switch_user;
	struct spawn_env env = { 0 };
	struct helper_argv hargv = { 0 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;

	*exit_status = -1;
	if (outlen > 0)
		out[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return pgr_err_set(err, "pipe: %s", strerror(errno));
	pipefd[1] = high_fd(pipefd[1]);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0)
		devnull = high_fd(devnull);
	if (pipefd[1] < 0 || devnull < 0) {
		close(pipefd[0]);
		if (pipefd[1] >= 0)
			close(pipefd[1]);
		if (devnull >= 0)
			close(devnull);
		return pgr_err_set(err, "could not set up to run %s: %s", argv[0], strerror(errno));
	}
	if (env_build(&env, NULL, user, err) != 0 ||
	    (helper && helper_argv_build(&hargv, "exec", 2, -1, user, argv, err) != 0)) {
		free(env.envp);
		close(pipefd[0]);
		close(pipefd[1]);
		close(devnull);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing else of ours: see spawn_daemon */
	posix_spawnattr_init(&attr);
	spawn_attr_signals(&attr, 0);
	rc = posix_spawn(&pid, helper ? hargv.exe : argv[0], &fa, &attr, helper ? hargv.argv : argv, env.envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env.envp);
	free(hargv.argv);
	close(pipefd[1]);
	close(devnull);
	if (rc != 0) {
		close(pipefd[0]);
		return pgr_err_set(err, "could not execute %s: %s", argv[0], strerror(rc));
	}
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

int proc_spawn_self(char *const args[], pid_t *pid, pgr_err *err)
{
	int devnull, rc;
	char exe[PATH_MAX];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;

	self_exe(exe, sizeof(exe));
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0)
		devnull = high_fd(devnull);
	if (devnull < 0)
		return pgr_err_set(err, "could not open /dev/null: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing else of ours: see spawn_daemon */
	posix_spawnattr_init(&attr);
	spawn_attr_signals(&attr, 0);
	rc = posix_spawn(pid, exe, &fa, &attr, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(devnull);
	if (rc != 0)
		return pgr_err_set(err, "could not start %s again (%s): %s", args[0], exe, strerror(rc));
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
	int ready[2] = { -1, -1 }, pid_pipe[2] = { -1, -1 };
	int devnull = -1, logfd = -1, rc;
	bool helper = reaped || (user != NULL && user->switch_user);
	pid_t child, daemon_pid;
	char msg[512] = "";
	ssize_t n;
	struct spawn_env env = { 0 };
	struct helper_argv hargv = { 0 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return pgr_err_set(err, "could not open /dev/null: %s", strerror(errno));
	devnull = high_fd(devnull);
	logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0) {
		pgr_err_set(err, "could not open %s: %s", log_path, strerror(errno));
		goto fail;
	}
	logfd = high_fd(logfd);
	if (devnull < 0 || logfd < 0) {
		pgr_err_set(err, "could not set up to start %s: %s", argv[0], strerror(errno));
		goto fail;
	}
	if (user && user->switch_user && fchown(logfd, user->uid, user->gid) != 0) {
		/* best effort, as before: the log stays its creator's (a (void) cast does not quiet -D_FORTIFY_SOURCE) */
	}
	if (helper) {
		if (pipe2(ready, O_CLOEXEC) != 0 || (ready[1] = high_fd(ready[1])) < 0 ||
		    (reaped && (pipe2(pid_pipe, O_CLOEXEC) != 0 || (pid_pipe[1] = high_fd(pid_pipe[1])) < 0))) {
			pgr_err_set(err, "pipe: %s", strerror(errno));
			goto fail;
		}
		if (helper_argv_build(&hargv, reaped ? "reap" : "exec", 3, reaped ? 4 : -1, user, argv, err) != 0)
			goto fail;
	}
	if (env_build(&env, extra_env, user, err) != 0)
		goto fail;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, logfd, 1);
	posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	if (helper)
		posix_spawn_file_actions_adddup2(&fa, ready[1], 3);
	if (reaped)
		posix_spawn_file_actions_adddup2(&fa, pid_pipe[1], 4);
	/* every other descriptor the caller has open stays out of the daemon: a daemon that outlives its
	 * starter must not hold its files (a test's lock, a terminal, a socket) for its whole life */
	posix_spawn_file_actions_addclosefrom_np(&fa, reaped ? 5 : helper ? 4 : 3);
	posix_spawnattr_init(&attr);
	spawn_attr_signals(&attr, POSIX_SPAWN_SETSID);
	rc = posix_spawn(&child, helper ? hargv.exe : argv[0], &fa, &attr, helper ? hargv.argv : argv, env.envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env.envp);
	env.envp = NULL;
	free(hargv.argv);
	hargv.argv = NULL;
	close(devnull);
	close(logfd);
	devnull = logfd = -1;
	if (rc != 0) {
		pgr_err_set(err, "could not execute %s: %s", argv[0], strerror(rc));
		goto fail;
	}
	daemon_pid = child;
	if (helper) {
		close(ready[1]);
		ready[1] = -1;
		if (reaped) {
			close(pid_pipe[1]);
			pid_pipe[1] = -1;
			if (read(pid_pipe[0], &daemon_pid, sizeof(daemon_pid)) != (ssize_t)sizeof(daemon_pid))
				daemon_pid = 0; /* the reaper failed before forking: the ready pipe says why */
			close(pid_pipe[0]);
			pid_pipe[0] = -1;
		}
		/* the pipe closes on exec (success) or carries the reason (failure) */
		n = read(ready[0], msg, sizeof(msg) - 1);
		close(ready[0]);
		ready[0] = -1;
		if (n > 0 || daemon_pid <= 0) {
			msg[n > 0 ? n : 0] = '\0';
			if (n > 0 && msg[n - 1] == '\n')
				msg[n - 1] = '\0';
			waitpid(child, NULL, 0); /* the reaper too ends once the failed daemon is gone */
			return pgr_err_set(err, "%s", msg[0] ? msg : "could not start the reaper");
		}
	}
	*pid = daemon_pid;
	if (pidfile != NULL && proc_pidfile_write(pidfile, daemon_pid, err) != 0) {
		kill(daemon_pid, SIGKILL);
		return -1;
	}
	return 0;

fail:
	free(env.envp);
	free(hargv.argv);
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (pid_pipe[i] >= 0)
			close(pid_pipe[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (logfd >= 0)
		close(logfd);
	return -1;
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
