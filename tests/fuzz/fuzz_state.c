/*
 * fuzz_state.c — the values pgrefresh keeps in etcd, as the state layer reads them back (src/state: the
 * refresh record, unit records, intents, pooler intents, presence, the operation lock, the switchover mark).
 * Another process wrote them, or nobody did: a value may be anything (issue 9 §7: a corrupt record is
 * named, never guessed at). Seeds: tests/fuzz/seeds/state/ (the JSON of the tests/unit/test_state_*,
 * test_refresh_* and test_agent_record cases).
 *
 * Properties besides memory safety: every parser answers 0 or -1, -1 with a message; what one parsed
 * formats to JSON that parses again and formats to the same text (the format is a fixed point).
 */
#include "fuzz.h"

#include "state/intent.h"
#include "state/lock.h"
#include "state/pooler_intent.h"
#include "state/presence.h"
#include "state/record.h"
#include "state/switchover_mark.h"
#include "state/unit_intent.h"
#include "state/unit_record.h"

/*
 * TYPE's parser on s; when it reads it, format, parse again, format again: the two texts are the same.
 * The structs are on the heap (a refresh record is large) and zeroed, as callers' are.
 */
#define ROUND_TRIP(TYPE, PARSE, FORMAT)                                                                      \
	do {                                                                                                 \
		TYPE *a = calloc(1, sizeof(TYPE)), *b = calloc(1, sizeof(TYPE));                           \
		char *j1 = NULL, *j2 = NULL;                                                                 \
		pgr_err err = { 0 };                                                                         \
		int rc;                                                                                      \
                                                                                                             \
		if (a == NULL || b == NULL)                                                                  \
			abort();                                                                             \
		rc = PARSE(s, a, &err);                                                                      \
		FUZZ_CHECK(rc == 0 || rc == -1, #PARSE " returned %d", rc);                                 \
		if (rc != 0) {                                                                               \
			FUZZ_CHECK(err.msg[0] != '\0', #PARSE " refused without a message");                \
		} else {                                                                                     \
			FUZZ_CHECK(FORMAT(a, &j1, &err) == 0, #FORMAT " of what " #PARSE " read: %s", err.msg); \
			FUZZ_CHECK(PARSE(j1, b, &err) == 0, #PARSE " refuses what " #FORMAT " wrote: %s\n%s", \
				   err.msg, j1);                                                             \
			FUZZ_CHECK(FORMAT(b, &j2, &err) == 0, #FORMAT " again: %s", err.msg);               \
			FUZZ_CHECK(strcmp(j1, j2) == 0, #TYPE " changes in a round trip:\n%s\n%s", j1, j2); \
		}                                                                                            \
		free(j1);                                                                                    \
		free(j2);                                                                                    \
		free(a);                                                                                     \
		free(b);                                                                                     \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);

	ROUND_TRIP(refresh_record, record_parse, record_to_json);
	ROUND_TRIP(unit_record, unit_record_parse, unit_record_to_json);
	ROUND_TRIP(refresh_intent, intent_parse, intent_to_json);
	ROUND_TRIP(pooler_intent, pooler_intent_parse, pooler_intent_to_json);
	ROUND_TRIP(presence, presence_parse, presence_to_json);
	ROUND_TRIP(unit_intent, unit_intent_parse, unit_intent_to_json);
	ROUND_TRIP(state_lock, state_lock_parse, state_lock_to_json);
	{
		/* the mark has no failure: what is not a mark reads as one without an owner */
		switchover_mark m1, m2;
		char t1[4096], t2[4096];

		switchover_mark_parse(s, &m1);
		switchover_mark_format(&m1, t1, sizeof(t1));
		switchover_mark_parse(t1, &m2);
		switchover_mark_format(&m2, t2, sizeof(t2));
		FUZZ_CHECK(strcmp(t1, t2) == 0, "switchover mark changes in a round trip:\n%s\n%s", t1, t2);
		FUZZ_CHECK(m2.lease == m1.lease && strcmp(m2.from, m1.from) == 0 && strcmp(m2.to, m1.to) == 0,
			   "the mark's owner or members changed");
		/* the clients it waits for are written only with the switchover's progress (an attempt, ...) */
		if (m1.attempt != 0 || m1.cascaded || m1.waiting_since_ms != 0 || m1.pause_timeouts)
			FUZZ_CHECK(m2.holder_count == m1.holder_count, "%d clients, then %d", m1.holder_count,
				   m2.holder_count);
	}
	free(s);
	return 0;
}
