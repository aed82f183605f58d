#!/usr/bin/env python3
"""supervise.py TIMEOUT_S CMD... - runs one integration test for tests/integration/run.

Runs CMD in its own process group with a timeout, as the "subreaper" of everything it starts: the
daemons a test starts detach (setsid, double fork), and instead of init they are reparented to us, so
whatever is still running when the test ends is found by its parent link and stopped (SIGTERM, then
SIGKILL). Every process that ends under us is reaped at once: an unreaped zombie looks alive to
whoever waits for it (Patroni waits so for its postmaster, which pg_ctl leaves to us).
SIGINT/SIGTERM to us, or the timeout: SIGTERM to the test's process group (its cleanup runs), SIGKILL
180 s later if it is still there.

Exit: the test's code; 124 on timeout; 130 when interrupted; 1 when the test passed but left
processes behind.
"""

import ctypes, os, signal, sys, time

PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    print("# run: prctl(PR_SET_CHILD_SUBREAPER) failed; leftovers cannot be tracked", file=sys.stderr)

timeout = float(sys.argv[1])
argv = sys.argv[2:]
me = os.getpid()
child = os.fork()
if child == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execvp(argv[0], argv)

interrupted = []
def on_signal(sig, frame):
    interrupted.append(sig)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)

def children_of(pids):
    """Every live process whose parent is in pids (read from /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        if rest[0] != "Z" and int(rest[1]) in pids:
            found.append(int(name))
    return found

def descendants():
    out, frontier = [], {me}
    while frontier:
        kids = [p for p in children_of(frontier) if p not in out]
        out.extend(kids)
        frontier = set(kids)
    return out

def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")[:150]
    except OSError:
        return "?"

def stop(pids, grace):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline:
            reap()
            pids = [p for p in pids if p in descendants()]
            if not pids:
                return []
            time.sleep(0.2)
        grace = 10
    return pids

start = time.time()
status = None
sent_term = None
while status is None:
    # Reap everything that ends, not only the test: as the subreaper we inherit the daemons the test
    # starts, and an unreaped zombie looks alive to whoever waits for it (Patroni waits for its
    # postmaster, which pg_ctl left to us, this way).
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == 0:
            break
        if pid == child:
            status = st
    if status is not None:
        break
    now = time.time()
    if sent_term is None and (interrupted or now - start > timeout):
        why = "interrupted" if interrupted else "timed out after %ds" % timeout
        print("# run: test %s: SIGTERM to it (its cleanup runs)" % why, file=sys.stderr, flush=True)
        try:
            os.killpg(child, signal.SIGTERM)
        except OSError:
            pass
        sent_term = now
    elif sent_term is not None and now - sent_term > 180:
        print("# run: test still running 180 s after SIGTERM: SIGKILL", file=sys.stderr, flush=True)
        try:
            os.killpg(child, signal.SIGKILL)
        except OSError:
            pass
        sent_term = now + 10**9
    time.sleep(0.1)

code = os.waitstatus_to_exitcode(status)
if code < 0:
    code = 128 - code
if interrupted:
    code = 130
elif sent_term is not None:
    code = 124

reap()
left = descendants()
if left:
    print("# run: the test left %d process(es) running; stopping them:" % len(left), file=sys.stderr)
    for p in left:
        print("#   %d %s" % (p, cmdline(p)), file=sys.stderr)
    survivors = stop(left, 15)
    if survivors:
        print("# run: could not stop: %s" % survivors, file=sys.stderr)
    if code == 0:
        code = 1
sys.stderr.flush()
sys.exit(code)
