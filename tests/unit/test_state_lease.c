/*
 * test_state_lease.c — when a request's lease is gone (state/lease.h: state_lease_err_gone): the agent
 * then grants a new lease at once instead of retrying with the dead one. The messages are the agent's own
 * errors as logged (etcd's JSON gateway through the etcd client), one case a line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "state/lease.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_err_gone(void **state)
{
	static const struct {
		const char *msg;
		bool gone;
	} cases[] = {
		/* after a partition healed (tests/faults/partition, coordinator's host): the presence key's put */
		{ "/pgrefresh/pg/alive/pg-0: etcd put /pgrefresh/pg/alive/pg-0: HTTP 404 from http://198.18.0.2:2379: "
		  "etcdserver: requested lease not found (code 5)",
		  true },
		/* the coordinator's claim, a transaction naming the lease */
		{ "etcd txn /pgrefresh/pg/coordinator: HTTP 404 from https://198.18.0.3:2379: etcdserver: requested "
		  "lease not found (code 5)",
		  true },
		/* cut off: no answer at all, the lease may live on */
		{ "etcd put /pgrefresh/pg/alive/pg-0: no endpoint answered (http://198.18.0.2:2379: Couldn't connect "
		  "to server)",
		  false },
		/* answered, but not about the lease */
		{ "etcd put /pgrefresh/pg/alive/pg-0: HTTP 503 from http://127.0.0.1:2379: etcdserver: no leader (code 14)",
		  false },
		{ "etcd put /pgrefresh/pg/alive/pg-0: HTTP 400 from http://127.0.0.1:2379: etcdserver: permission denied "
		  "(code 7)",
		  false },
		{ "etcd txn /pgrefresh/pg/coordinator: HTTP 400: etcdserver: requested lease has expired", false },
		{ "", false },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		pgr_err err;

		snprintf(err.msg, sizeof(err.msg), "%s", cases[i].msg);
		if (state_lease_err_gone(&err) != cases[i].gone)
			fail_msg("case %zu (%s): expected %s", i, cases[i].msg, cases[i].gone ? "gone" : "not gone");
	}
	assert_false(state_lease_err_gone(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
