/*
 * test_proc.c — daemons started with a reaper between them and us (util/proc.h,
 * proc_spawn_daemon_reaped): the pidfile names the daemon itself; a process the daemon leaves behind
 * is reaped the moment it ends (Patroni waits on its stopped postmaster, and PID 1 may reap late); the
 * reaper is gone once nothing is left; a daemon that cannot start is one error, nothing left running.
 * Children are started without fork() (posix_spawn, and this program re-executed as the spawn helper
 * for what posix_spawn cannot do): a daemon leads its own session, runs as the postgres user when we
 * are root, with its extra environment, and with SIGPIPE at its default even when we ignore it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/proc.h"

static char dir[] = "/tmp/pgr-test-proc.XXXXXX";

/* 'Z' for a zombie, '-' when the pid does not exist, else the state letter of /proc/pid/stat */
static char pid_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return '-';
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return '-';
	}
	fclose(f);
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/* waits up to ms for pid to be gone for good (no process, not even a zombie) */
static bool gone_within(pid_t pid, long ms)
{
	for (long waited = 0; waited <= ms; waited += 10) {
		if (pid_state(pid) == '-')
			return true;
		proc_sleep_ms(10);
	}
	return false;
}

static void test_orphan_reaped_at_once(void **state)
{
	char log[128], pidfile[128], orphan_file[128], script[512];
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	pid_t daemon_pid = 0, orphan;
	long long ended;
	pgr_err err = { 0 };

	(void)state;
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/daemon.pid", dir);
	snprintf(orphan_file, sizeof(orphan_file), "%s/orphan.pid", dir);
	/* the daemon leaves a child behind (like Patroni's postmaster) and ends first */
	snprintf(script, sizeof(script), "sleep 0.4 & echo $! > %s; sleep 0.2", orphan_file);
	assert_int_equal(proc_spawn_daemon_reaped(argv, NULL, NULL, log, pidfile, &daemon_pid, &err), 0);
	assert_true(daemon_pid > 0);
	assert_int_equal(read_pid(pidfile), daemon_pid); /* the pidfile names the daemon, not the reaper */
	for (int waited = 0; read_pid(orphan_file) == 0; waited += 10) {
		if (waited > 5000)
			fail_msg("the daemon did not write %s", orphan_file);
		proc_sleep_ms(10);
	}
	orphan = read_pid(orphan_file);
	assert_true(gone_within(daemon_pid, 2000)); /* the daemon, reaped as it ended */
	assert_true(pid_state(orphan) != '-');      /* its child outlives it, under the reaper */
	for (int waited = 0; pid_state(orphan) != '-' && pid_state(orphan) != 'Z'; waited += 5) {
		if (waited > 5000)
			fail_msg("the orphan %d (sleep 0.4) still runs after 5 s", (int)orphan);
		proc_sleep_ms(5);
	}
	ended = proc_now_ms();
	/* a zombie for no more than a moment: reaped by the reaper, not left to PID 1 */
	assert_true(gone_within(orphan, 200));
	assert_true(proc_now_ms() - ended <= 250);
	/* the reaper ends once nothing is left under it: our only child, reaped here */
	{
		int status;
		pid_t r = waitpid(-1, &status, 0);

		assert_true(r > 0 && r != daemon_pid && r != orphan);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

static void test_missing_program(void **state)
{
	char log[128], pidfile[128];
	char *argv[] = { "/nonexistent/daemon", NULL };
	pid_t pid = 0;
	pgr_err err = { 0 };

	(void)state;
	snprintf(log, sizeof(log), "%s/missing.log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/missing.pid", dir);
	assert_int_equal(proc_spawn_daemon_reaped(argv, NULL, NULL, log, pidfile, &pid, &err), -1);
	assert_non_null(strstr(err.msg, "could not execute /nonexistent/daemon"));
	assert_int_equal(access(pidfile, F_OK), -1); /* no pidfile for what did not start */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* the reaper is gone and reaped too */
}

/* Field n (1-based, after the command name) of /proc/pid/stat as a number; -1 when unreadable. */
static long stat_field(pid_t pid, int n)
{
	char path[64], buf[1024], *p;
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL) {
		p += 2; /* field 3 */
		for (int field = 3; field < n && p != NULL; field++) {
			p = strchr(p, ' ');
			if (p != NULL)
				p++;
		}
		if (p != NULL)
			v = strtol(p, NULL, 10);
	}
	fclose(f);
	return v;
}

/* Waits up to ms for path to have content; returns it (static buffer) or "". */
static const char *file_text(const char *path, long ms)
{
	static char buf[2048];

	for (long waited = 0; waited <= ms; waited += 10) {
		FILE *f = fopen(path, "r");
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (n > 0 && strstr(buf, "END") != NULL)
			return buf;
		proc_sleep_ms(10);
	}
	return buf;
}

/*
 * A daemon (not reaped): its own session, SIGPIPE at its default though we ignore it, the extra
 * environment over ours, the user's HOME when we are root; and its log file belongs to that user.
 */
static void test_daemon_session_env_signals(void **state)
{
	char log[128], pidfile[128], script[256];
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	char *extra[] = { "PGR_TEST_VALUE=forty-two", "HOME=/overridden", NULL };
	proc_user user;
	pid_t pid = 0;
	pgr_err err = { 0 };
	const char *text;
	struct stat st;
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);

	(void)state;
	assert_int_equal(proc_user_for_servers(&user, &err), 0);
	snprintf(log, sizeof(log), "%s/env.log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/env.pid", dir);
	snprintf(script, sizeof(script),
		 "echo \"v=$PGR_TEST_VALUE uid=$(id -u) home=$HOME\"; grep SigIgn /proc/self/status; echo END; sleep 2");
	assert_int_equal(proc_spawn_daemon(argv, extra, &user, log, pidfile, &pid, &err), 0);
	assert_true(pid > 0);
	assert_int_equal(read_pid(pidfile), pid);
	assert_int_equal(stat_field(pid, 6), (long)pid); /* session id: it leads its own session */
	text = file_text(log, 5000);
	print_message("%s", text);
	assert_non_null(strstr(text, "v=forty-two"));
	{
		char want[128];

		snprintf(want, sizeof(want), "uid=%u ", (unsigned)user.uid);
		assert_non_null(strstr(text, want));
		/* the user's HOME when switching user, else the extra environment's */
		snprintf(want, sizeof(want), "home=%s\n", user.switch_user ? user.home : "/overridden");
		assert_non_null(strstr(text, want));
	}
	/* SigIgn is a hex mask: SIGPIPE (13) is bit 12; we ignore it, the daemon must not */
	{
		const char *ign = strstr(text, "SigIgn:");
		unsigned long long mask;

		assert_non_null(ign);
		mask = strtoull(ign + strlen("SigIgn:"), NULL, 16);
		assert_int_equal((mask >> (SIGPIPE - 1)) & 1, 0);
	}
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(st.st_uid, user.uid);
	assert_int_equal(proc_stop_pid(pid, SIGTERM, 2000, &err), 0);
	signal(SIGPIPE, old);
}

/*
 * A descriptor the starter holds open (not close-on-exec: a test's flock, a terminal) never reaches what
 * it starts: a daemon, plain or reaped, as another user or not, and proc_run's child, see only 0, 1, 2
 * (a daemon that outlives its starter held the machine's test lock for its whole life).
 */
static void test_no_inherited_descriptors(void **state)
{
	char log[128], pidfile[128], path[128], out[256];
	char *argv[] = { "/bin/sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; sleep 2", NULL };
	char *run_argv[] = { "/bin/sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '", NULL };
	proc_user user;
	pgr_err err = { 0 };
	int held, status = -1;

	(void)state;
	assert_int_equal(proc_user_for_servers(&user, &err), 0);
	snprintf(path, sizeof(path), "%s/held", dir);
	held = open(path, O_WRONLY | O_CREAT, 0600); /* no O_CLOEXEC: inherited unless the spawn closes it */
	assert_true(held >= 0);
	for (int reaped = 0; reaped <= 1; reaped++) {
		pid_t pid = 0;
		const char *text;

		snprintf(log, sizeof(log), "%s/fds%d.log", dir, reaped);
		snprintf(pidfile, sizeof(pidfile), "%s/fds%d.pid", dir, reaped);
		if (reaped)
			assert_int_equal(proc_spawn_daemon_reaped(argv, NULL, &user, log, pidfile, &pid, &err), 0);
		else
			assert_int_equal(proc_spawn_daemon(argv, NULL, &user, log, pidfile, &pid, &err), 0);
		text = file_text(log, 5000);
		print_message("daemon%s fds: %s", reaped ? " (reaped)" : "", text);
		/* ls's own directory descriptor is 3: nothing else above 2 */
		assert_string_equal(text, "0 1 2 3 \n");
		assert_int_equal(proc_stop_pid(pid, SIGTERM, 2000, &err), 0);
	}
	assert_int_equal(proc_run(run_argv, &user, 5000, out, sizeof(out), &status, &err), 0);
	assert_int_equal(status, 0);
	assert_string_equal(out, "0 1 2 3 ");
	close(held);
}

/* proc_run: output and exit code, as the postgres user when root; a missing program is an error. */
static void test_run(void **state)
{
	char out[256], want[64];
	char *id[] = { "/usr/bin/id", "-u", NULL };
	char *fails[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	char *slow[] = { "/bin/sleep", "5", NULL };
	char *missing[] = { "/nonexistent/program", NULL };
	proc_user user;
	int status = -2;
	long long t0;
	pgr_err err = { 0 };

	(void)state;
	assert_int_equal(proc_user_for_servers(&user, &err), 0);
	assert_int_equal(proc_run(id, &user, 5000, out, sizeof(out), &status, &err), 0);
	assert_int_equal(status, 0);
	snprintf(want, sizeof(want), "%u\n", (unsigned)user.uid);
	assert_string_equal(out, want);
	assert_int_equal(proc_run(fails, NULL, 5000, out, sizeof(out), &status, &err), 0);
	assert_int_equal(status, 3);
	assert_non_null(strstr(out, "out"));
	assert_non_null(strstr(out, "err"));
	t0 = proc_now_ms();
	assert_int_equal(proc_run(slow, &user, 300, out, sizeof(out), &status, &err), -1);
	assert_true(proc_now_ms() - t0 < 2000);
	assert_non_null(strstr(err.msg, "did not finish within 300 ms"));
	/* POSIX lets posix_spawn report a failed exec either way: glibc returns it, valgrind's exits 127 */
	if (proc_run(missing, NULL, 5000, out, sizeof(out), &status, &err) == 0)
		assert_int_equal(status, 127);
	else
		assert_non_null(strstr(err.msg, "could not execute /nonexistent/program"));
	/* through the helper (as another user) the failure is the child's: exit 127 and its reason */
	if (user.switch_user) {
		assert_int_equal(proc_run(missing, &user, 5000, out, sizeof(out), &status, &err), 0);
		assert_int_equal(status, 127);
		assert_non_null(strstr(out, "could not execute /nonexistent/program"));
	}
}

/* proc_spawn_self starts this very program: here, as the spawn helper, which runs /bin/sh. */
static void test_spawn_self(void **state)
{
	char path[128], script[256];
	char *args[] = { "test_proc", PROC_HELPER_ARG, "exec", "-", "-", "-", "-", "--", "/bin/sh", "-c", script, NULL };
	pid_t pid = 0;
	int status = -1;
	pgr_err err = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/self.out", dir);
	snprintf(script, sizeof(script), "echo helped END > %s; exit 7", path);
	assert_int_equal(proc_spawn_self(args, &pid, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_non_null(strstr(file_text(path, 1000), "helped"));
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orphan_reaped_at_once),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_daemon_session_env_signals),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_no_inherited_descriptors),
		cmocka_unit_test(test_spawn_self),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
