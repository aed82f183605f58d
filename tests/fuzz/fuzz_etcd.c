/*
 * fuzz_etcd.c — etcd's JSON-gateway replies (etcd/etcd_parse.h): every reply parser on the same input,
 * the watch stream both ways, base64. Seeds: tests/fixtures/etcd/ (replies captured from etcd 3.4).
 *
 * Besides "no crash, no leak, no undefined behaviour", each result must hold what the header promises:
 * a failure carries a message, a parsed kv has a key, a DELETE event has no value, base64 round-trips,
 * and the diff of a range against itself and against nothing has the sizes it must have.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "etcd/etcd_parse.h"

/* A failure has a one-line message; a success leaves none to mislead a caller. */
static void check_rc(int rc, const pgr_err *err, const char *what)
{
	if (rc != 0) {
		FUZZ_CHECK(rc == -1, "%s returned %d", what, rc);
		FUZZ_CHECK(err->msg[0] != '\0', "%s failed without a message", what);
	}
}

static void check_kvs(const etcd_kvs *kvs, bool values_present, const char *what)
{
	FUZZ_CHECK(kvs->count >= 0, "%s: count %d", what, kvs->count);
	FUZZ_CHECK(kvs->count == 0 || kvs->items != NULL, "%s: %d items, no array", what, kvs->count);
	for (int i = 0; i < kvs->count; i++) {
		FUZZ_CHECK(kvs->items[i].key != NULL, "%s: item %d has no key", what, i);
		if (values_present)
			FUZZ_CHECK(kvs->items[i].value != NULL, "%s: item %d (%s) has no value", what, i,
				   kvs->items[i].key);
	}
}

static void fuzz_range(const char *s)
{
	etcd_kvs kvs, same, gone;
	pgr_err err = { 0 };
	int rc = etcd_parse_range(s, &kvs, &err);

	check_rc(rc, &err, "etcd_parse_range");
	if (rc != 0) {
		FUZZ_CHECK(kvs.count == 0 && kvs.items == NULL, "a failed range left %d items", kvs.count);
		return;
	}
	check_kvs(&kvs, true, "range");
	/* against itself since revision 0: every key is a change, none deleted (keys may repeat: count) */
	if (etcd_kvs_diff(&kvs, &kvs, INT64_MIN, &same, &err) == 0) {
		FUZZ_CHECK(same.count >= kvs.count && same.count <= 2 * kvs.count, "diff with itself: %d of %d",
			   same.count, kvs.count);
		check_kvs(&same, false, "diff with itself");
		etcd_kvs_free(&same);
	}
	/* everything deleted: one change a key, each without a value */
	{
		etcd_kvs none = { 0 };

		if (etcd_kvs_diff(&kvs, &none, 0, &gone, &err) == 0) {
			FUZZ_CHECK(gone.count == kvs.count, "all deleted: %d changes for %d keys", gone.count, kvs.count);
			for (int i = 0; i < gone.count; i++)
				FUZZ_CHECK(gone.items[i].value == NULL, "a deleted key %s has a value", gone.items[i].key);
			etcd_kvs_free(&gone);
		}
	}
	etcd_kvs_free(&kvs);
}

static void fuzz_txn(const char *s)
{
	etcd_kvs range;
	bool ok = true;
	pgr_err err = { 0 };
	int rc = etcd_parse_txn(s, &ok, &range, &err);

	check_rc(rc, &err, "etcd_parse_txn");
	if (rc == 0)
		check_kvs(&range, true, "txn range");
	else
		FUZZ_CHECK(!ok && range.count == 0 && range.items == NULL, "a failed txn says %d with %d items", ok,
			   range.count);
	etcd_kvs_free(&range);
	rc = etcd_parse_txn(s, &ok, NULL, &err);
	check_rc(rc, &err, "etcd_parse_txn without range");
}

/* The events of a stream; *count -1 when it was refused. */
static void fuzz_watch(const char *s, bool truncated_ok, int *count)
{
	etcd_kvs events;
	bool created = true;
	pgr_err err = { 0 };
	int rc = etcd_parse_watch_stream(s, truncated_ok, &events, &created, &err);

	*count = -1;
	check_rc(rc, &err, "etcd_parse_watch_stream");
	if (rc != 0) {
		FUZZ_CHECK(events.count == 0 && events.items == NULL && !created, "a failed watch left %d events",
			   events.count);
		return;
	}
	check_kvs(&events, false, "watch events");
	*count = events.count;
	etcd_kvs_free(&events);
}

static void fuzz_simple(const char *s)
{
	int64_t a = -1, b = -1;
	bool healthy = true;
	char reason[64], msg[64];
	int code = 0;
	pgr_err err = { 0 };

	check_rc(etcd_parse_header(s, &a, &err), &err, "etcd_parse_header");
	check_rc(etcd_parse_deleterange(s, &a, &err), &err, "etcd_parse_deleterange");
	if (etcd_parse_lease_grant(s, &a, &b, &err) == 0)
		FUZZ_CHECK(a != 0, "a granted lease with ID 0");
	else
		check_rc(-1, &err, "etcd_parse_lease_grant");
	if (etcd_parse_lease_keepalive(s, &a, &err) == 0)
		FUZZ_CHECK(a >= 0, "keepalive TTL %lld", (long long)a);
	else
		check_rc(-1, &err, "etcd_parse_lease_keepalive");
	if (etcd_parse_lease_timetolive(s, &a, &err) == 0)
		FUZZ_CHECK(a >= 0, "timetolive TTL %lld", (long long)a);
	else
		check_rc(-1, &err, "etcd_parse_lease_timetolive");
	if (etcd_parse_health(s, &healthy, reason, sizeof(reason), &err) == 0)
		FUZZ_CHECK(strlen(reason) < sizeof(reason), "reason overflows");
	else
		check_rc(-1, &err, "etcd_parse_health");
	if (etcd_parse_error(s, &code, msg, sizeof(msg)))
		FUZZ_CHECK(msg[0] != '\0', "an error reply without a message");
	/* a tiny buffer must still be NUL-terminated and not overrun */
	(void)etcd_parse_error(s, &code, msg, 1);
	FUZZ_CHECK(msg[0] == '\0', "a 1-byte message buffer holds text");
}

static void fuzz_base64(const uint8_t *data, size_t size, const char *s)
{
	char *enc = etcd_b64_encode(data, size);
	char *dec = NULL;
	size_t len = 0;
	pgr_err err = { 0 };

	FUZZ_CHECK(enc != NULL, "encode failed");
	FUZZ_CHECK(etcd_b64_decode(enc, &dec, &len, &err) == 0, "decode of our own encoding failed: %s", err.msg);
	FUZZ_CHECK(len == size && memcmp(dec, data, size) == 0, "base64 round trip changed %zu bytes to %zu", size,
		   len);
	free(dec);
	free(enc);
	/* the input as base64 text: a success decodes 3 bytes per 4 characters at most */
	if (etcd_b64_decode(s, &dec, &len, &err) == 0) {
		FUZZ_CHECK(len <= strlen(s) / 4 * 3, "decoded %zu bytes from %zu characters", len, strlen(s));
		free(dec);
	} else {
		FUZZ_CHECK(dec == NULL && len == 0, "a failed decode left output");
		check_rc(-1, &err, "etcd_b64_decode");
	}
	{
		char *end = NULL;
		size_t endlen = 0;

		FUZZ_CHECK(etcd_prefix_range_end(s, &end, &endlen, &err) == 0, "range end of a prefix failed");
		FUZZ_CHECK(endlen >= 1 && endlen <= (strlen(s) > 0 ? strlen(s) : 1), "range end of %zu bytes",
			   endlen);
		free(end);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	int whole, cut_ok;

	fuzz_range(s);
	fuzz_txn(s);
	fuzz_watch(s, false, &whole);
	fuzz_watch(s, true, &cut_ok);
	/* a stream read whole reads the same when a cut is allowed */
	FUZZ_CHECK(whole < 0 || cut_ok == whole, "%d events, %d when a cut is allowed", whole, cut_ok);
	fuzz_simple(s);
	fuzz_base64(data, size, s);
	free(s);
	return 0;
}
