#!/usr/bin/python3
"""partitionlib.py — the partition table's moving parts (tests/faults/partition): faultlib.py's, plus
the cut of a host and the judging of the coordinators.

Run with Debian's /usr/bin/python3 (psycopg2). The writer, the sampler, the count of missing ids and the
self-test are faultlib.py's own (`partitionlib.py writer|sampler|missing|selftest ...` runs them): the
clients are judged exactly as in the fault matrix.

  partitionlib.py fire STEP HOST CDIR TARGET_VERSION REPORT TIMEOUT_S
      The arguments of faultlib.py's fire, for a cluster of `cluster create --hosts N`. Waits until the
      refresh reaches STEP, then cuts HOST off: its veth's end on the bridge goes down (a cable pulled:
      the host sees no carrier, nothing reaches it, it reaches nothing but itself), for CUT_S (30 s,
      PGR_PARTITION_SECONDS), then the link comes up again. It returns once the host is back.
      STEPs (seen from outside the hosts, in the files the agents and PgBouncers write, and with the CLI;
      never in etcd directly: its TLS and users are the cluster's business):
        restart     an agent logged "restarting PostgreSQL through Patroni" (the first unit refreshed)
        switchover  the coordinator logged "switchover: OLD -> NEW" and a PgBouncer logged "PAUSE command
                    issued" after it (clients paused, the primary not yet switched)
      HOSTs:
        unit         the host of the unit that logged the restart (the refreshing unit)
        coordinator  the host of the unit `pgrefresh status` names as coordinator
        primary      the host of the unit that accepts writes (pg_is_in_recovery() = false; the status's
                     primary if none answers); at switchover: the old primary the coordinator named
        etcd-leader  the host whose etcd member is the raft leader (etcd's /v3/maintenance/status)
      REPORT: faultlib's fields (reached, killed = the cut was made, victim, what, record_state = the
      refresh's state in status, fired_ms) and cut_s, healed_ms, during (status 20 s into the cut:
      refresh state and message, coordinator).

  partitionlib.py coordinators CDIR
      At most one coordinator acting at any time, from the agents' logs: every refresh transition an
      agent recorded (logged "refresh N: A -> B", not followed by "not recorded" / "could not record")
      must come from the agent that became coordinator last before it. Prints JSON: writes, handovers
      (who became coordinator, when), stale (writes by an agent after another had become coordinator).
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import ssl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402  (beside this file)

CUT_S = float(os.environ.get("PGR_PARTITION_SECONDS", "30"))
STEPS = ["restart", "switchover"]
HOSTS = ["unit", "coordinator", "primary", "etcd-leader"]
PGR = os.environ.get("PGR", "pgrefresh")


def unit_number(u):
    return int(u["name"].rsplit("/", 1)[1])


def host_dir(cdir, u):
    return os.path.join(cdir, "hosts", "h%d" % unit_number(u))


def veth(conf, u):
    """The host end of unit u's veth (cluster/hosts.c: pgr<tag>v<i>; the bridge is pgr-<tag>)."""
    return "pgr%sv%d" % (conf["hosts_bridge"][len("pgr-"):], unit_number(u))


def file_logs(cdir, conf, leaf):
    """faultlib's log reader, over a file of every host: units/<member>/agent.log or pgbouncer/pgbouncer.log."""
    logs = faultlib.Logs(cdir, conf)
    logs.paths = {}
    for u in conf["units"]:
        path = leaf.format(member=u["member"])
        logs.paths[u["name"]] = os.path.join(host_dir(cdir, u), path)
    logs.offsets = {n: 0 for n in logs.paths}
    logs.partial = {n: "" for n in logs.paths}
    return logs


def status(cdir):
    try:
        r = subprocess.run([PGR, "status", "--dir", cdir, "--format", "json"], capture_output=True, text=True,
                           timeout=20)
        return json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def etcd_leader(conf):
    """The unit whose host runs etcd's raft leader, from each member's /v3/maintenance/status."""
    ctx = None
    if conf.get("etcd_ca"):
        ctx = ssl.create_default_context(cafile=conf["etcd_ca"])
        if conf.get("etcd_cert"):
            ctx.load_cert_chain(conf["etcd_cert"], conf.get("etcd_key") or None)
    for url in conf["etcd"].split(","):
        try:
            req = urllib.request.Request(url.rstrip("/") + "/v3/maintenance/status", data=b"{}",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
                d = json.loads(r.read())
        except (OSError, ValueError):
            continue
        leader, me = d.get("leader"), (d.get("header") or {}).get("member_id")
        if leader and leader == me:
            host = re.match(r"^https?://([^:/]+)", url).group(1)
            for u in conf["units"]:
                if u.get("host") == host:
                    return u
    return None


def ip_link(name, state):
    subprocess.run(["/usr/sbin/ip", "link", "set", name, state], check=True, timeout=10)


def fire(step, host, cdir, target, report, timeout):
    conf = faultlib.read_conf(cdir)
    agents = file_logs(cdir, conf, "units/{member}/agent.log")
    bouncers = file_logs(cdir, conf, "pgbouncer/pgbouncer.log")
    list(bouncers.new_lines())  # what was there before the watch
    t0 = faultlib.now_ms()
    deadline = t0 + timeout * 1000
    refreshing = old_primary = None
    switch_seen = reached = False
    while faultlib.now_ms() < deadline and not reached:
        for unit, line in agents.new_lines():
            if "restarting PostgreSQL through Patroni to run %s" % target in line and refreshing is None:
                refreshing = unit
            m = re.search(r"switchover: (\S+) -> (\S+), PgBouncer paused", line)
            if m:
                old_primary, switch_seen = m.group(1), True
        if step == "restart":
            reached = refreshing is not None
        elif switch_seen:
            reached = any("PAUSE command issued" in line for _, line in bouncers.new_lines())
        time.sleep(0.005)
    out = {"step": step, "fault": host, "reached": reached, "after_ms": round(faultlib.now_ms() - t0)}
    if not reached:
        out["note"] = "step not reached within %d s" % timeout
        json.dump(out, open(report, "w"))
        return 1
    victim = None
    if host == "unit":
        victim = faultlib.unit_of(conf, refreshing)
    elif host == "primary" and step == "switchover":
        victim = faultlib.unit_of(conf, old_primary)
    elif host == "primary":
        w = faultlib.writable_units(conf)
        victim = faultlib.unit_of(conf, w[0]) if w else None
    elif host == "etcd-leader":
        victim = etcd_leader(conf)
    before = status(cdir) or {}
    if host == "coordinator" or (host == "primary" and victim is None):
        want = before.get("coordinator") if host == "coordinator" else next(
            (u["name"] for u in before.get("units", []) if u.get("role") == "primary"), None)
        victim = faultlib.unit_of(conf, want or "")
    out["record_state"] = (before.get("refresh") or {}).get("state")
    if victim is None:
        out.update({"killed": False, "note": "no %s host found to cut off" % host})
        json.dump(out, open(report, "w"))
        return 1
    roles = {u["name"]: u.get("role") for u in before.get("units", [])}
    out.update({"victim": "h%d (%s, %s)" % (unit_number(victim), victim["name"], roles.get(victim["name"], "?")),
                "what": "%s's host cut off %g s" % (host, CUT_S), "cut_s": CUT_S})
    link = veth(conf, victim)
    ip_link(link, "down")
    out["killed"] = True
    out["fired_ms"] = round(faultlib.now_ms() - t0)
    try:
        cut_at = time.monotonic()
        while time.monotonic() - cut_at < min(20.0, CUT_S):
            time.sleep(0.2)
        s = status(cdir) or {}
        out["during"] = {"state": (s.get("refresh") or {}).get("state"), "coordinator": s.get("coordinator"),
                         "message": (s.get("refresh") or {}).get("message")}
        while time.monotonic() - cut_at < CUT_S:
            time.sleep(0.2)
    finally:
        ip_link(link, "up")
    out["healed_ms"] = round(faultlib.now_ms() - t0)
    json.dump(out, open(report, "w"))
    return 0


# ---- at most one coordinator acting ------------------------------------------------------------------

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\S+) [A-Z]+: (.*)$")


def coordinator_events(lines_per_agent):
    """[(stamp, agent, 'became' | 'write', text)]: each agent's coordinatorship and recorded transitions,
    sorted by time. A transition logged and then refused by etcd ("not recorded", "could not record")
    is no write."""
    events = []
    for agent, lines in lines_per_agent.items():
        pending = None
        for raw in lines:
            m = LINE.match(raw)
            if not m:
                continue
            stamp, text = m.group(1), m.group(3)
            if re.match(r"refresh \d+: \S+ -> \S+ \(", text):
                if pending:
                    events.append(pending)
                pending = (stamp, agent, "write", text[:100])
            elif pending and ("not recorded" in text or "could not record the refresh" in text):
                pending = None
            elif text.startswith("became the coordinator"):
                if pending:
                    events.append(pending)
                pending = None
                events.append((stamp, agent, "became", ""))
        if pending:
            events.append(pending)
    return sorted(events)


def judge_coordinators(events):
    """Writes by an agent after another became coordinator (and before it became coordinator again)."""
    current = None
    stale = []
    writes = 0
    for stamp, agent, kind, text in events:
        if kind == "became":
            current = agent
        else:
            writes += 1
            if agent != current:
                stale.append({"at": stamp, "by": agent, "coordinator": current, "what": text})
    return writes, stale


def coordinators(cdir):
    conf = faultlib.read_conf(cdir)
    per_agent = {}
    for u in conf["units"]:
        try:
            with open(os.path.join(host_dir(cdir, u), "units", u["member"], "agent.log"), errors="replace") as f:
                per_agent[u["name"]] = f.read().splitlines()
        except OSError:
            per_agent[u["name"]] = []
    events = coordinator_events(per_agent)
    writes, stale = judge_coordinators(events)
    print(json.dumps({"writes": writes, "stale": len(stale), "first_stale": stale[:5],
                      "handovers": ["%s %s" % (s, a) for s, a, k, _ in events if k == "became"]}))
    return 0


def selftest():
    """faultlib's self-test, then the coordinator judging, table-driven on made-up log lines."""
    rc = faultlib.selftest()

    def log(agent, *lines):
        return {agent: ["2026-01-01 00:00:%s %s INFO: %s" % (t, agent, x) for t, x in lines]}

    cases = [
        ("one coordinator", {**log("a", ("01.000", "became the coordinator"), ("02.000", "refresh 1: done -> checking (x)"),
                                   ("03.000", "refresh 1: checking -> unit (y)"))}, 0),
        ("a handover, the old one silent", {**log("a", ("01.000", "became the coordinator"),
                                                  ("02.000", "refresh 1: done -> checking (x)")),
                                            **log("b", ("05.000", "became the coordinator"),
                                                  ("06.000", "refresh 1: checking -> unit (y)"))}, 0),
        ("the old one writes after the handover", {**log("a", ("01.000", "became the coordinator"),
                                                         ("07.000", "refresh 1: unit -> unit (z)")),
                                                   **log("b", ("05.000", "became the coordinator"))}, 1),
        ("the old one tries, etcd refuses", {**log("a", ("01.000", "became the coordinator"),
                                                   ("07.000", "refresh 1: unit -> unit (z)"),
                                                   ("07.010", "refresh 1: the record changed meanwhile; unit-healthy "
                                                              "not recorded, deciding again")),
                                             **log("b", ("05.000", "became the coordinator"))}, 0),
        ("a write before any coordinator", {**log("a", ("01.000", "refresh 1: done -> checking (x)"))}, 1),
    ]
    for name, per_agent, want in cases:
        got = len(judge_coordinators(coordinator_events(per_agent))[1])
        print("%s - coordinators: %s (%d, expected %d)" % ("ok" if got == want else "not ok", name, got, want))
        rc |= got != want
    return 1 if rc else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "fire" and len(argv) == 8 and argv[2] in STEPS and argv[3] in HOSTS:
        return fire(argv[2], argv[3], argv[4], argv[5], argv[6], float(argv[7]))
    if len(argv) == 3 and argv[1] == "coordinators":
        return coordinators(argv[2])
    if len(argv) == 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) >= 2 and argv[1] in ("writer", "sampler", "missing"):
        return faultlib.main(argv)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
