/*
 * test_proc.c — daemons started with a reaper between them and us (util/proc.h,
 * proc_spawn_daemon_reaped): the pidfile names the daemon itself; a process the daemon leaves behind
 * is reaped the moment it ends (Patroni waits on its stopped postmaster, and PID 1 may reap late); the
 * reaper is gone once nothing is left; a daemon that cannot start is one error, nothing left running.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
