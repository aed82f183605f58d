#!/usr/bin/env bash
# The picture of a refresh: a 3-unit cluster refreshed LOW -> HIGH (pause=none), then
# `history --svg ID --output FILE` from what the coordinator recorded; the SVG parses as XML and names
# every unit; headless Chromium renders it to a PNG, and the PNG (decoded here with python3's zlib) shows
# one health-gate bar per unit, each in its own row band in plan order, with the restart bars beside
# them and the clients' write stall marked. PGR_SVG_KEEP=DIR keeps refresh.svg and refresh.png there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || fail "chromium is missing (Debian's chromium: scripts/install-deps)"

# bands PNG COLOR [LEAST]: the runs of image rows holding at least LEAST (default 8) pixels of COLOR
# (#rrggbb), runs at most 6 rows apart joined: "y0-y1 y0-y1 ..."
cat >"$T/bands.py" <<'PY'
import struct, sys, zlib

def decode(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat = 8, b''
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected PNG format'
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = decode(sys.argv[1])
hexc = sys.argv[2].lstrip('#')
target = bytes(int(hexc[i:i + 2], 16) for i in (0, 2, 4))
least = int(sys.argv[3]) if len(sys.argv) > 3 else 8
out, start = [], None
for y, line in enumerate(rows):
    n = sum(1 for x in range(w) if line[x * bpp:x * bpp + 3] == target)
    if n >= least and start is None:
        start = y
    if n < least and start is not None:
        out.append('%d-%d' % (start, y - 1))
        start = None
if start is not None:
    out.append('%d-%d' % (start, h - 1))
# a bar crossed by the dashed end line (a 0-s gate at the refresh's end) shows as stripes a few rows
# apart: runs at most 6 rows apart are one bar (unit rows are about 35 rows apart)
merged = []
for run in out:
    a, b = map(int, run.split('-'))
    if merged and a - merged[-1][1] <= 7:
        merged[-1][1] = b
    else:
        merged.append([a, b])
print(' '.join('%d-%d' % (a, b) for a, b in merged))
PY
bands() { python3 "$T/bands.py" "$1" "$2" "${3:-8}"; }
color() { sed -n "s/^#define SVG_COLOR_$1 \"\\(#[0-9a-f]*\\)\"/\\1/p" "$ROOT/src/status/svg.h"; }

step "a 3-unit cluster on $LOW, refreshed to $HIGH without pauses"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
set_pause none
start_refresh
wait_refresh 240 idle
assert_all_on "$HIGH"
ID=$(json_get "$(history_json)" "d[-1]['id']")
ok "refresh $ID in history"

step "history --svg $ID --output FILE: an SVG document with a row per unit"
pgr_ok history --dir "$C" --svg "$ID" --output "$T/refresh.svg"
python3 - "$T/refresh.svg" <<'PY' || fail "refresh.svg is not a well-formed SVG document"
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
sys.exit(0 if root.tag == '{http://www.w3.org/2000/svg}svg' else 1)
PY
UNITS=$(json_get "$(history_json)" "' '.join(u['unit'] for u in d[-1]['units'])")
for u in $UNITS; do
	assert_contains "$(cat "$T/refresh.svg")" ">$u</text>" "the picture's row names"
done
assert_contains "$(cat "$T/refresh.svg")" "completed: every unit on $HIGH (3/3)" "the final state"
assert_match "$(cat "$T/refresh.svg")" "clients&apos; write stall [0-9]+\\.[0-9]+ s" "the write stall's label"
pgr_run history --dir "$C" --svg 999
assert_user_error "history --svg of an id that is not there"
pgr_ok history --dir "$C" --svg "$ID"
assert_eq "$OUT" "$(cat "$T/refresh.svg")" "--svg to stdout and to --output"
ok "units in plan order: $UNITS"

step "rendered by headless Chromium: the screenshot has the units' rows"
H=$(sed -n 's/.*<svg [^>]* height="\([0-9]*\)".*/\1/p' "$T/refresh.svg")
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$T/chromium" \
	--window-size="1100,$H" --screenshot="$T/refresh.png" "file://$T/refresh.svg" >"$T/chromium.log" 2>&1 ||
	fail "chromium could not take the screenshot: $(tail -n 3 "$T/chromium.log")"
[ -s "$T/refresh.png" ] || fail "no screenshot"
if [ -n "${PGR_SVG_KEEP:-}" ]; then
	cp "$T/refresh.svg" "$T/refresh.png" "$PGR_SVG_KEEP/"
	echo "# kept in $PGR_SVG_KEEP"
fi
# a gate passed in the tick that saw it lasts 0 s and is drawn 2 px wide: one pixel of its colour a row
GATES=$(bands "$T/refresh.png" "$(color GATE)" 1)
RESTARTS=$(bands "$T/refresh.png" "$(color RESTART)")
STALL=$(bands "$T/refresh.png" "$(color STALL)")
echo "# gate bands: $GATES; restart bands: $RESTARTS; stall bands: $STALL"
# one gate bar per unit, each in a row band of its own, plus the legend's swatch at the bottom
assert_eq "$(wc -w <<<"$GATES")" 4 "bands of health-gate colour (3 units + the legend)"
python3 - "$GATES" "$RESTARTS" <<'PY' || fail "gate rows are not one per unit, evenly spaced, with restarts beside them: $GATES / $RESTARTS"
import sys
gates = [tuple(map(int, b.split('-'))) for b in sys.argv[1].split()][:3]
restarts = [tuple(map(int, b.split('-'))) for b in sys.argv[2].split()][:-1]
# evenly spaced (within 2 rows: a bar crossed by the dashed end line may lose its edge rows)
steps = {gates[1][0] - gates[0][0], gates[2][0] - gates[1][0]}
ok = max(steps) - min(steps) <= 2 and min(steps) >= 20 and all(b - a >= 10 for a, b in gates)
# every restart bar shares a row with a gate bar (the old primary's restart is its switchover)
ok = ok and len(restarts) >= 2 and all(any(r[0] <= g[1] and g[0] <= r[1] for g in gates) for r in restarts)
sys.exit(0 if ok else 1)
PY
[ "$(wc -w <<<"$STALL")" -ge 2 ] || fail "the write stall is not marked in the screenshot (bands: $STALL)"
ok "3 unit rows with their gates and restarts, the stall marked"
