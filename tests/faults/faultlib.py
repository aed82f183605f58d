#!/usr/bin/python3
"""faultlib.py — the moving parts of one fault cell (tests/faults/cell.sh), in one small program.

Run with Debian's /usr/bin/python3: it has psycopg2 (Patroni's own dependency).

  faultlib.py writer OUT STOPFILE
      Inserts unique ids, one transaction each (autocommit), through PgBouncer (the libpq environment:
      `eval "$(pgrefresh cluster env)"`), about 100 a second, until STOPFILE exists. An id is written to
      OUT/acked only once the server answered its INSERT with success. An error is counted, the
      connection is made again, and the writer goes on with a new id (the failed one may or may not
      have committed: never counted). OUT/writer.json: acked, failed, first_error, longest_gap_ms (the
      longest time without an acknowledged commit).

  faultlib.py sampler CDIR OUT STOPFILE
      One thread per unit (ports from CDIR/pgrefresh.conf), each asking its unit `pg_is_in_recovery()`
      every 20 ms on a connection of its own, straight to PostgreSQL, until STOPFILE exists.
      OUT/sampler.json: the samples per unit and `overlaps`: the moments two units accepted writes at
      once. A unit is known to accept writes between two consecutive samples (at most 0.5 s apart)
      that both answered false; an overlap is a sample of one unit answering false inside such a
      window of another unit (each unit's samples checked against each other unit's windows).

  faultlib.py fire STEP FAULT CDIR TARGET_VERSION REPORT TIMEOUT_S
      Waits until the refresh reaches STEP, then kill -9s what FAULT names, at once. REPORT gets a JSON
      object: reached (bool), the state of the refresh record when it fired, the victim (unit, pid,
      what), the time from the start of the watch. STEPs and how each is seen (the refresh record at
      /pgrefresh/<cluster>/refresh and the switchover mark at /pgrefresh/<cluster>/switchover, read
      from etcd every 10 ms; the agents' logs every 5 ms):
        checking      the record's state is checking (the checks before any unit is touched)
        relink        an agent logged "relinked bin to TARGET" (the first unit)
        restart       an agent logged "restarting PostgreSQL through Patroni" (the first unit)
        gate          an agent logged "Patroni restarted PostgreSQL" and the record is still at that
                      unit: the coordinator's health gate of the first unit
        stand-aside   an agent logged "standing aside before the restart" (the sync standby)
        paused        the record's state is paused (pause-after-unit-refresh=first)
        cascade       the switchover mark exists, PgBouncer not yet paused (the standbys are being
                      moved to stream from the candidate)
        sw-before     the mark says PgBouncer is paused (the switchover asked for, not yet promoted)
        sw-after      the mark exists and its candidate answers pg_is_in_recovery() = false (promoted,
                      clients not yet resumed)
        old-primary   the record is at the unit planned as primary (after the switchover: the old
                      primary's own step)
        batch         max-parallel-units >= 2 (the cell sets it, on 4 units: two replicas a batch): two
                      units of one batch of the record, both refreshing, each of whose agents logged
                      "restarting PostgreSQL through Patroni to run TARGET" and not yet "Patroni restarted
                      PostgreSQL" (both restarting at once); the victim of agent and postmaster is the
                      first of them in the plan
        fast-stop     switchover=fast (the cell sets it for these steps): its progress at
        fast-promote  /pgrefresh/<cluster>/switchover-fast names the step stop-old, promote,
        fast-key      maintenance-off (docs/fast-switchover.md)
      FAULTs, and whom they hit (the "refreshing unit" is the record's current unit; in the switchover,
      the old primary; before the first unit or while paused, the next unit of the plan):
        coordinator   the agent that holds the coordinator key
        agent         the refreshing unit's agent (batch: a unit of the batch, restarting)
        postmaster    the refreshing unit's postmaster (if it is down at that moment, restarting, the
                      next one to appear within 5 s; the report says so)
        primary       the postmaster of the unit that accepts writes (the Patroni leader if none does)
        etcd          etcd (the cell restarts it on its data)
        etcd20        etcd (the cell restarts it 20 s later)

  faultlib.py missing CDIR OUT
      For every unit: how many ids of OUT/acked its table lacks. Prints JSON {"pg/0": 0, ...}.

  faultlib.py selftest
      The overlap detection, table-driven, on made-up samples; the batch step's detection on made-up
      records.
"""

import base64
import http.client
import json
import os
import re
import signal
import sys
import threading
import time

import psycopg2

TABLE = "faults_w"


def now_ms():
    return time.monotonic() * 1000.0


# ---- the cluster's pgrefresh.conf --------------------------------------------------------------------

def read_conf(cdir):
    conf = {"units": []}
    section = None
    with open(os.path.join(cdir, "pgrefresh.conf")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^\[unit (.+)\]$", line)
            if m:
                section = {"name": m.group(1), "member": m.group(1).replace("/", "-")}
                conf["units"].append(section)
                continue
            if line.startswith("["):
                section = None
                continue
            k, _, v = line.partition("=")
            k, v = k.strip(), v.strip()
            if section is None:
                conf[k] = v
            else:
                section[k] = v
    return conf


def unit_of(conf, name_or_member):
    for u in conf["units"]:
        if name_or_member in (u["name"], u["member"]):
            return u
    return None


def connect_unit(u, timeout=1):
    c = psycopg2.connect(host=u.get("host", "127.0.0.1"), port=int(u["pg_port"]), dbname="postgres",
                         user="postgres", connect_timeout=timeout, application_name="pgr-faults")
    c.autocommit = True
    return c


# ---- etcd (its v3 JSON gateway) ----------------------------------------------------------------------

class Etcd:
    def __init__(self, url):
        m = re.match(r"^https?://([^:/]+):(\d+)", url)
        self.host, self.port = m.group(1), int(m.group(2))
        self.conn = None

    def get(self, key):
        body = json.dumps({"key": base64.b64encode(key.encode()).decode()})
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=1)
                self.conn.request("POST", "/v3/kv/range", body, {"Content-Type": "application/json"})
                r = json.loads(self.conn.getresponse().read())
                kvs = r.get("kvs") or []
                return base64.b64decode(kvs[0]["value"]).decode() if kvs else None
            except (OSError, http.client.HTTPException, ValueError):
                self.conn = None
        raise OSError("etcd unreachable")


# ---- writer ------------------------------------------------------------------------------------------

def writer(out, stopfile):
    acked = open(os.path.join(out, "acked"), "a", buffering=1)
    n_acked = failed = 0
    first_error = ""
    next_id = 1
    last_ack = start = now_ms()
    longest_gap = 0.0
    conn = None
    while not os.path.exists(stopfile):
        try:
            if conn is None:
                conn = psycopg2.connect(connect_timeout=2, application_name="pgr-faults-writer")
                conn.autocommit = True
            i = next_id
            next_id += 1
            with conn.cursor() as cur:
                cur.execute("INSERT INTO %s(id) VALUES (%%s)" % TABLE, (i,))
            acked.write("%d\n" % i)
            n_acked += 1
            t = now_ms()
            longest_gap = max(longest_gap, t - last_ack)
            last_ack = t
        except psycopg2.Error as e:
            failed += 1
            if not first_error:
                first_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            try:
                if conn is not None:
                    conn.close()
            except psycopg2.Error:
                pass
            conn = None
            time.sleep(0.05)
            continue
        time.sleep(0.01)
    longest_gap = max(longest_gap, now_ms() - last_ack)
    with open(os.path.join(out, "writer.json"), "w") as f:
        json.dump({"acked": n_acked, "failed": failed, "first_error": first_error,
                   "longest_gap_ms": round(longest_gap), "duration_ms": round(now_ms() - start)}, f)


# ---- sampler -----------------------------------------------------------------------------------------

def sample_unit(u, stopfile, samples):
    conn = None
    while not os.path.exists(stopfile):
        t0 = now_ms()
        val = None
        try:
            if conn is None:
                conn = connect_unit(u)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                val = not cur.fetchone()[0]  # True: accepts writes
        except psycopg2.Error:
            try:
                if conn is not None:
                    conn.close()
            except psycopg2.Error:
                pass
            conn = None
        samples.append((t0, now_ms(), val))
        time.sleep(0.02)


def writable_windows(samples, max_gap=500.0):
    """[(start, end)]: between two consecutive samples that both answered 'accepts writes'."""
    out = []
    for a, b in zip(samples, samples[1:]):
        if a[2] is True and b[2] is True and b[0] - a[1] <= max_gap:
            out.append((a[1], b[0]))
    return out


def overlaps(per_unit):
    found = []
    names = sorted(per_unit)
    wins = {n: writable_windows(per_unit[n]) for n in names}
    for a in names:
        for b in names:
            if a == b:
                continue
            for (s0, s1, v) in per_unit[b]:
                if v is not True:
                    continue
                for (w0, w1) in wins[a]:
                    if w0 <= s0 and s1 <= w1:
                        found.append({"writer": a, "also": b, "at_ms": round(s0)})
                        break
    return found


def sampler(cdir, out, stopfile):
    conf = read_conf(cdir)
    per_unit = {u["name"]: [] for u in conf["units"]}
    threads = [threading.Thread(target=sample_unit, args=(u, stopfile, per_unit[u["name"]]), daemon=True)
               for u in conf["units"]]
    start = now_ms()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ov = overlaps(per_unit)
    with open(os.path.join(out, "sampler.json"), "w") as f:
        json.dump({"overlaps": len(ov), "first_overlaps": ov[:10],
                   "samples": {n: len(s) for n, s in per_unit.items()},
                   "writable_samples": {n: sum(1 for x in s if x[2] is True) for n, s in per_unit.items()},
                   "duration_ms": round(now_ms() - start)}, f)


# ---- fire --------------------------------------------------------------------------------------------

LOG_MARKS = {
    "relink": "relinked bin to {target}",
    "restart": "restarting PostgreSQL through Patroni",
    "gate": "Patroni restarted PostgreSQL",
    "stand-aside": "standing aside before the restart",
}
STEPS = ["checking", "relink", "stand-aside", "restart", "gate", "paused", "cascade", "sw-before", "sw-after",
         "old-primary", "batch", "fast-stop", "fast-promote", "fast-key"]
FAST_STEPS = {"fast-stop": "stop-old", "fast-promote": "promote", "fast-key": "maintenance-off"}
FAULTS = ["coordinator", "agent", "postmaster", "primary", "etcd", "etcd20"]


class Logs:
    """The agents' logs, read as they grow."""

    def __init__(self, cdir, conf):
        self.paths = {u["name"]: os.path.join(cdir, "units", u["member"], "agent.log") for u in conf["units"]}
        self.offsets = {n: 0 for n in self.paths}
        self.partial = {n: "" for n in self.paths}

    def new_lines(self):
        for n, p in self.paths.items():
            try:
                with open(p, errors="replace") as f:
                    f.seek(self.offsets[n])
                    data = f.read()
                    self.offsets[n] = f.tell()
            except OSError:
                continue
            data = self.partial[n] + data
            lines = data.split("\n")
            self.partial[n] = lines.pop()
            for line in lines:
                yield n, line


def pidfile_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def alive(pid):
    if pid <= 0:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def refreshing_unit(rec):
    """The record's current unit; in the switchover, the old primary; else the next pending unit."""
    if not rec:
        return None
    units = rec.get("units") or []
    cur = rec.get("current", -1)
    if isinstance(cur, int) and 0 <= cur < len(units):
        return units[cur]["unit"]
    if rec.get("state") == "switchover" and rec.get("switchover_from"):
        return rec["switchover_from"]
    for u in units:
        if u.get("step") == "pending":
            return u["unit"]
    return None


def restarting_batch(rec, restarting):
    """The units of one batch of rec, refreshing, whose agents are restarting PostgreSQL (in plan order; the
    batch with the most of them), [] when none."""
    best = []
    by_batch = {}
    for u in (rec or {}).get("units") or []:
        if u.get("step") == "refreshing" and u.get("unit") in restarting:
            by_batch.setdefault(u.get("batch", -1), []).append(u["unit"])
    for units in by_batch.values():
        if len(units) > len(best):
            best = units
    return best


def writable_units(conf):
    out = []
    for u in conf["units"]:
        try:
            c = connect_unit(u, timeout=1)
            with c.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                if not cur.fetchone()[0]:
                    out.append(u["name"])
            c.close()
        except psycopg2.Error:
            pass
    return out


def patroni_leader(conf):
    for u in conf["units"]:
        try:
            c = http.client.HTTPConnection(u.get("host", "127.0.0.1"), int(u["api_port"]), timeout=1)
            c.request("GET", "/cluster")
            d = json.loads(c.getresponse().read())
            for m in d.get("members", []):
                if m.get("role") == "leader":
                    return m["name"]
        except (OSError, http.client.HTTPException, ValueError):
            continue
    return None


def fire(step, fault, cdir, target, report, timeout):
    conf = read_conf(cdir)
    etcd = Etcd(conf["etcd"])
    prefix = "/pgrefresh/%s/" % conf["name"]
    logs = Logs(cdir, conf)
    t0 = now_ms()
    deadline = t0 + timeout * 1000
    rec = mark = fast = None
    seen = {}  # log mark -> unit that logged it
    restarting = set()  # units whose agent logged its restart to target, not yet its end
    batch = []
    next_etcd = 0
    reached = False
    cand_conn = None
    cand_unit = None
    while now_ms() < deadline:
        for unit, line in logs.new_lines():
            for s, text in LOG_MARKS.items():
                if text.format(target=target) in line and s not in seen:
                    seen[s] = unit
            if "restarting PostgreSQL through Patroni to run %s " % target in line:
                restarting.add(unit)
            elif LOG_MARKS["gate"] in line:
                restarting.discard(unit)
        if now_ms() >= next_etcd:
            next_etcd = now_ms() + 10
            try:
                raw = etcd.get(prefix + "refresh")
                rec = json.loads(raw) if raw else None
                raw = etcd.get(prefix + "switchover")
                mark = json.loads(raw) if raw else None
                if step in FAST_STEPS:
                    raw = etcd.get(prefix + "switchover-fast")
                    fast = json.loads(raw) if raw else None
            except (OSError, ValueError):
                pass
        state = rec.get("state") if rec else None
        if step == "checking":
            reached = state == "checking"
        elif step in ("relink", "restart", "stand-aside"):
            reached = step in seen
        elif step == "gate":
            reached = "gate" in seen and state == "unit" and refreshing_unit(rec) == seen["gate"]
        elif step == "paused":
            reached = state == "paused"
        elif step == "cascade":
            reached = mark is not None and not mark.get("pgbouncer_paused")
        elif step == "sw-before":
            reached = mark is not None and bool(mark.get("pgbouncer_paused"))
        elif step == "sw-after":
            if mark is not None and mark.get("to"):
                u = unit_of(conf, mark["to"])
                if u is not None and u["name"] != cand_unit:
                    cand_unit, cand_conn = u["name"], None
                try:
                    if cand_conn is None and u is not None:
                        cand_conn = connect_unit(u, timeout=1)
                    if cand_conn is not None:
                        with cand_conn.cursor() as cur:
                            cur.execute("SELECT pg_is_in_recovery()")
                            reached = not cur.fetchone()[0]
                except psycopg2.Error:
                    cand_conn = None
        elif step == "batch":
            batch = restarting_batch(rec, restarting)
            reached = state == "unit" and len(batch) >= 2
        elif step in FAST_STEPS:
            reached = fast is not None and fast.get("step") == FAST_STEPS[step]
        elif step == "old-primary":
            units = (rec or {}).get("units") or []
            cur = (rec or {}).get("current", -1)
            reached = (state == "unit" and isinstance(cur, int) and 0 <= cur < len(units) and
                       units[cur].get("planned_role") == "primary")
        if reached:
            break
        time.sleep(0.005)
    out = {"step": step, "fault": fault, "reached": reached, "after_ms": round(now_ms() - t0), "batch": batch,
           "record_state": (rec or {}).get("state"), "record_done": sum(
               1 for u in (rec or {}).get("units", []) if u.get("step") in ("done", "skipped"))}
    if not reached:
        out["note"] = "step not reached within %d s" % timeout
        json.dump(out, open(report, "w"))
        return 1
    delay_ms = int(os.environ.get("FAULT_FIRE_DELAY_MS", "0") or "0")
    if delay_ms > 0:
        # exploring a step's later moments (tests/faults/matrix --help): the step reached, then this long
        time.sleep(delay_ms / 1000.0)
        out["delay_ms"] = delay_ms
    victim_unit = None
    pid = 0
    what = ""
    if fault == "coordinator":
        try:
            victim_unit = (etcd.get(prefix + "coordinator") or "").strip()
        except OSError:
            victim_unit = ""
        u = unit_of(conf, victim_unit)
        if u is not None:
            victim_unit = u["name"]
            pid = pidfile_pid(os.path.join(cdir, "units", u["member"], "agent.pid"))
        what = "coordinator's agent"
    elif fault == "agent":
        victim_unit = batch[0] if batch else refreshing_unit(rec)
        u = unit_of(conf, victim_unit or "")
        if u is not None:
            victim_unit = u["name"]
            pid = pidfile_pid(os.path.join(cdir, "units", u["member"], "agent.pid"))
        what = "refreshing unit's agent" + (" (batch %s)" % " ".join(batch) if batch else "")
    elif fault in ("postmaster", "primary"):
        if fault == "postmaster":
            victim_unit = batch[0] if batch else refreshing_unit(rec)
            what = "refreshing unit's postmaster" + (" (batch %s)" % " ".join(batch) if batch else "")
        else:
            w = writable_units(conf)
            if step == "sw-after" and cand_unit in w:
                victim_unit = cand_unit
            elif w:
                victim_unit = w[0]
            else:
                victim_unit = patroni_leader(conf)
                out["note"] = "no unit accepted writes: the Patroni leader's postmaster"
            what = "primary's postmaster" + (" (two accepted writes: %s)" % w if len(w) > 1 else "")
        u = unit_of(conf, victim_unit or "")
        if u is not None:
            victim_unit = u["name"]
            path = os.path.join(cdir, "units", u["member"], "data", "postmaster.pid")
            waited = now_ms()
            while now_ms() - waited < 5000:
                pid = pidfile_pid(path)
                if alive(pid):
                    break
                time.sleep(0.01)
            if now_ms() - waited > 20:
                out["note"] = "its postmaster was down; killed the next one after %d ms" % (now_ms() - waited)
    elif fault in ("etcd", "etcd20"):
        victim_unit = "etcd"
        pid = pidfile_pid(os.path.join(cdir, "etcd", "etcd.pid"))
        what = "etcd"
    out.update({"victim": victim_unit, "what": what, "pid": pid})
    if not alive(pid):
        out["killed"] = False
        out["note"] = (out.get("note", "") + "; no live process to kill").lstrip("; ")
        json.dump(out, open(report, "w"))
        return 1
    os.kill(pid, signal.SIGKILL)
    out["killed"] = True
    out["fired_ms"] = round(now_ms() - t0)
    json.dump(out, open(report, "w"))
    return 0


# ---- self-test of the pure parts (run by the matrix before its cells) ---------------------------------

def selftest():
    """Table-driven: (samples per unit, expected overlap count). A sample is (sent_ms, answered_ms, value)
    with value True (accepts writes), False (in recovery), None (no answer)."""
    def run(writes):
        return [(t, t + 1, v) for t, v in writes]
    cases = [
        ("one primary, one standby", {"a": run([(0, True), (20, True), (40, True)]),
                                      "b": run([(5, False), (25, False), (45, False)])}, 0),
        ("clean switchover: a stops, then b promotes", {"a": run([(0, True), (20, True), (40, None), (60, None)]),
                                                        "b": run([(5, False), (25, False), (45, True), (65, True)])}, 0),
        ("b writable inside a's window", {"a": run([(0, True), (20, True), (40, True)]),
                                          "b": run([(5, False), (25, True), (45, False)])}, 1),
        ("both writable throughout", {"a": run([(0, True), (20, True), (40, True)]),
                                      "b": run([(5, True), (25, True), (45, True)])}, 4),
        ("a's two answers too far apart: no window", {"a": run([(0, True), (900, True)]),
                                                      "b": run([(400, True)])}, 0),
        ("no answer between: no window", {"a": run([(0, True), (20, None), (40, True)]),
                                          "b": run([(25, True)])}, 0),
    ]
    bad = 0
    for name, per_unit, want in cases:
        got = len(overlaps(per_unit))
        print("%s - overlaps: %s (%d, expected %d)" % ("ok" if got == want else "not ok", name, got, want))
        bad += got != want
    # the batch step: (record units as (unit, batch, step), units restarting, expected batch)
    def rec(*units):
        return {"state": "unit", "units": [{"unit": u, "batch": b, "step": st} for u, b, st in units]}
    batch_cases = [
        ("two of one batch restarting", rec(("pg/3", 0, "refreshing"), ("pg/2", 0, "refreshing"),
                                            ("pg/1", 1, "pending")), {"pg/3", "pg/2"}, ["pg/3", "pg/2"]),
        ("one of the batch restarting, the other not yet", rec(("pg/3", 0, "refreshing"),
                                                                 ("pg/2", 0, "refreshing")), {"pg/3"}, ["pg/3"]),
        ("one done, one restarting: not two", rec(("pg/3", 0, "done"), ("pg/2", 0, "refreshing")),
         {"pg/3", "pg/2"}, ["pg/2"]),
        ("restarting in two batches, one each", rec(("pg/3", 0, "refreshing"), ("pg/1", 1, "refreshing")),
         {"pg/3", "pg/1"}, ["pg/3"]),
        ("no record", None, {"pg/3", "pg/2"}, []),
    ]
    for name, r, restarting, want in batch_cases:
        got = restarting_batch(r, restarting)
        print("%s - batch: %s (%s, expected %s)" % ("ok" if got == want else "not ok", name, got, want))
        bad += got != want
    return 1 if bad else 0


# ---- missing -----------------------------------------------------------------------------------------

def missing(cdir, out):
    conf = read_conf(cdir)
    with open(os.path.join(out, "acked")) as f:
        acked = {int(x) for x in f if x.strip()}
    res = {}
    for u in conf["units"]:
        try:
            c = connect_unit(u, timeout=3)
            with c.cursor() as cur:
                cur.execute("SELECT id FROM %s" % TABLE)
                have = {r[0] for r in cur.fetchall()}
            c.close()
            res[u["name"]] = len(acked - have)
        except psycopg2.Error as e:
            res[u["name"]] = "unreachable: %s" % str(e).strip().splitlines()[0]
    print(json.dumps(res, sort_keys=True))
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "writer" and len(argv) == 4:
        writer(argv[2], argv[3])
        return 0
    if cmd == "sampler" and len(argv) == 5:
        sampler(argv[2], argv[3], argv[4])
        return 0
    if cmd == "fire" and len(argv) == 8 and argv[2] in STEPS and argv[3] in FAULTS:
        return fire(argv[2], argv[3], argv[4], argv[5], argv[6], float(argv[7]))
    if cmd == "selftest":
        return selftest()
    if cmd == "missing" and len(argv) == 4:
        return missing(argv[2], argv[3])
    print("usage: see faultlib.py's docstring", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
