/*
 * activity.c — pg_stat_activity read as one JSON value (json_agg: one round trip through pgsql.h's
 * one-value query), parsed with jansson; pg_terminate_backend checked against the transaction's
 * identity, so that a session that has since committed and begun again is left alone.
 */
#include "pg/activity.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pg/pgsql.h"

/* Room for PG_ACTIVITY_MAX rows of JSON: pid, three short texts (application_name <= 63 bytes), numbers. */
#define ANSWER_MAX 8192

int pg_activity_parse(const char *json, pg_xact *xacts, int max, int *count, pgr_err *err)
{
	json_error_t jerr;
	json_t *arr = json_loads(json, 0, &jerr);
	size_t i;
	json_t *o;

	*count = 0;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return pgr_err_set(err, "pg_stat_activity: the answer is not a JSON array: %.60s", json);
	}
	json_array_foreach(arr, i, o)
	{
		json_t *pid = json_object_get(o, "pid"), *start = json_object_get(o, "xact_start_us"),
		       *age = json_object_get(o, "age_ms");
		const char *app = json_string_value(json_object_get(o, "application"));
		const char *client = json_string_value(json_object_get(o, "client"));
		const char *state = json_string_value(json_object_get(o, "state"));
		pg_xact *x;

		if (!json_is_integer(pid) || json_integer_value(pid) <= 0 || json_integer_value(pid) > INT32_MAX ||
		    !json_is_integer(start) || !json_is_integer(age)) {
			json_decref(arr);
			*count = 0;
			return pgr_err_set(err, "pg_stat_activity: row %zu lacks pid, xact_start_us or age_ms", i);
		}
		if (*count >= max) {
			(*count)++;
			continue;
		}
		x = &xacts[(*count)++];
		memset(x, 0, sizeof(*x));
		x->pid = (int)json_integer_value(pid);
		x->xact_start_us = (int64_t)json_integer_value(start);
		x->age_ms = (int64_t)json_integer_value(age);
		snprintf(x->application, sizeof(x->application), "%s", app ? app : "");
		snprintf(x->client, sizeof(x->client), "%s", client ? client : "local");
		snprintf(x->state, sizeof(x->state), "%s", state ? state : "");
	}
	json_decref(arr);
	return 0;
}

int pg_activity_open_transactions(const char *conninfo, long min_age_ms, pg_xact *xacts, int max, int *count,
				  pgr_err *err)
{
	char sql[1400], answer[ANSWER_MAX];

	*count = 0;
	if (min_age_ms < 0)
		min_age_ms = 0;
	/* the count over all of them, the rows for the oldest few: the answer stays small whatever happens */
	snprintf(sql, sizeof(sql),
		 "WITH x AS ("
		 " SELECT pid, coalesce(application_name, '') AS application,"
		 "  CASE WHEN client_addr IS NULL THEN 'local' ELSE host(client_addr) || ':' || client_port END AS client,"
		 "  coalesce(state, '') AS state,"
		 "  (extract(epoch FROM xact_start) * 1000000)::bigint AS xact_start_us,"
		 "  (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::bigint AS age_ms"
		 " FROM pg_stat_activity"
		 " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
		 "  AND coalesce(application_name, '') NOT LIKE 'Patroni%%'"
		 "  AND xact_start <= clock_timestamp() - make_interval(secs => %ld / 1000.0))"
		 " SELECT coalesce(json_agg(r ORDER BY r.xact_start_us), '[]')::text || ' ' || (SELECT count(*) FROM x)"
		 " FROM (SELECT * FROM x ORDER BY xact_start_us LIMIT %d) r",
		 min_age_ms, max < 0 ? 0 : max);
	if (pg_query_text(conninfo, sql, answer, sizeof(answer), err) != 0)
		return pgr_err_prefix(err, "reading pg_stat_activity");
	{
		/* "[...] N": the rows, then how many there are in all */
		char *space = strrchr(answer, ' ');
		long long total;
		int parsed;

		if (space == NULL || sscanf(space + 1, "%lld", &total) != 1 || total < 0)
			return pgr_err_set(err, "pg_stat_activity: unexpected answer %.60s", answer);
		*space = '\0';
		if (pg_activity_parse(answer, xacts, max, &parsed, err) != 0)
			return -1;
		*count = total > parsed ? (int)(total > 100000 ? 100000 : total) : parsed;
	}
	return 0;
}

int pg_activity_terminate(const char *conninfo, const pg_xact *xact, bool *ended, pgr_err *err)
{
	char sql[400], answer[16];

	*ended = false;
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity"
		 " WHERE pid = %d AND (extract(epoch FROM xact_start) * 1000000)::bigint = %" PRId64,
		 xact->pid, xact->xact_start_us);
	if (pg_query_text(conninfo, sql, answer, sizeof(answer), err) != 0)
		return pgr_err_prefix(err, "pg_terminate_backend(%d)", xact->pid);
	*ended = strcmp(answer, "t") == 0;
	return 0;
}

void pg_activity_describe(const pg_xact *xact, char *buf, size_t len)
{
	snprintf(buf, len, "pid %d (%s%s%s, %s, open %lld s)", xact->pid, xact->application[0] ? "'" : "",
		 xact->application[0] ? xact->application : "no application_name", xact->application[0] ? "'" : "",
		 xact->client, (long long)(xact->age_ms / 1000));
}
