/*
 * pg_action.h — the agent's side of state/pg_intent.h: what the fast switchover (docs/fast-switchover.md)
 * asks of this unit's own PostgreSQL, ensured here and answered in etcd. Stop (pg_ctl stop -m fast, then
 * LC_ALL=C pg_controldata: its state and shutdown checkpoint go into the answer), promote (pg_promote,
 * waited for), a synchronous_standby_names override naming one standby (ALTER SYSTEM, reload) and its
 * reset. Each is ensured: asked twice, or read again after the agent restarted, it changes nothing more.
 * Run by the agent's intent poller thread only (one caller: no lock).
 */
#ifndef PGR_AGENT_PG_ACTION_H
#define PGR_AGENT_PG_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "state/pg_intent.h"
#include "util/err.h"

typedef struct agent_pg {
	bool seeded;        /* answered was read from the unit's last answer in etcd */
	char answered[64];  /* the token of the last intent answered */
} agent_pg;

/*
 * Reads this unit's pg intent (prefix: /pgrefresh/<cluster>/) and, when its token is not the one last
 * answered, ensures it and writes the answer. *acted: an answer was written. -1 when etcd cannot be read or
 * written (the intent is taken again at the next poll); a failed action is an answer (ok false), not -1.
 */
int agent_pg_take_intent(agent_pg *p, const etcd_client *etcd, const char *prefix, const cluster_conf *conf,
			 const conf_unit *unit, bool *acted, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Waits up to period_ms for a pg intent this agent has not answered yet, reading its key every
 * AGENT_PG_POLL_MS: true as soon as there is one (take it with agent_pg_take_intent), false at the end of
 * the period or when etcd cannot be read. For the intent poller while a switchover is marked: an ask is
 * seen within AGENT_PG_POLL_MS instead of the poller's period.
 */
#define AGENT_PG_POLL_MS 10
bool agent_pg_intent_waiting(agent_pg *p, const etcd_client *etcd, const char *prefix, const conf_unit *unit,
			     long period_ms);

/*
 * The data directory of the unit's PostgreSQL, as its Patroni reads it (postgresql.data_dir): from the user's
 * config for an adopted unit (adopt/adopt.h: Debian's keeps /var/lib/postgresql/15/main), else from
 * DIR/units/<member>/patroni.yml (pgrefresh's: DIR/units/<member>/data). -1 naming the file when it has none.
 */
int agent_pg_data_dir(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len, pgr_err *err)
	__attribute__((warn_unused_result));
/* postgresql.data_dir of a Patroni config's text (origin names it in errors): an absolute path. Pure. */
int agent_pg_data_dir_parse(const char *yml, const char *origin, char *buf, size_t len, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Whether the postmaster pid is gone: no such process, or a zombie (killed, not yet reaped by its parent,
 * Patroni: kill(pid, 0) still succeeds on it). pid 0 (unknown): not known gone. The stop's wait ends then.
 */
bool agent_pg_postmaster_gone(pid_t pid);
/* Whether a /proc/<pid>/stat line says the process is dead: state Z (a zombie) or X. Pure. */
bool agent_pg_stat_dead(const char *stat);

/*
 * The stop, judged after pg_ctl stop (signalled: it exited 0, or was not run because the postmaster was dead
 * already) from what is left: the pidfile, and whether its postmaster is gone (agent_pg_postmaster_gone). A
 * killed postmaster leaves its pidfile behind and pg_ctl answers "could not send stop signal": it is done
 * (pg_controldata then says "in production": crashed), not a failure to wait out. Pure.
 */
typedef enum agent_pg_stop_verdict {
	AGENT_PG_STOP_DONE,   /* no postmaster left: pg_controldata says how it ended (shut down, or crashed) */
	AGENT_PG_STOP_WAIT,   /* signalled and still running: look again (bounded) */
	AGENT_PG_STOP_FAILED, /* pg_ctl could not signal a postmaster that still runs (or whose pid is unknown) */
} agent_pg_stop_verdict;
agent_pg_stop_verdict agent_pg_stop_judge(bool signalled, bool pidfile_present, bool postmaster_gone);

/* msg as one line that fits an answer's error (state/pg_intent.h refuses control characters): each control
 * character a space, cut at a whole UTF-8 character, trailing spaces dropped. Pure. */
void agent_pg_one_line(char *out, size_t len, const char *msg);

/* synchronous_standby_names naming exactly that standby ("FIRST 1 (\"pg-2\")"); -1 for a name that is not
 * [A-Za-z0-9_.-]+ (nothing else is put in the SQL). Pure. */
int agent_pg_sync_names(const char *standby, char *buf, size_t len) __attribute__((warn_unused_result));

#endif
