#!/usr/bin/env bash
# Renders a run directory's report.html with headless Chromium to report.png and checks the
# picture is not blank (more than a few distinct colours, not one flat page) and that the inline
# SVG charts were drawn: pixels in the first series colour (#1f77b4, the charts' lines) must appear.
# Usage: scripts/report-screenshot.sh RUN_DIR        (exit 0 ok, 1 blank, 2 no chromium / no report)
set -euo pipefail
dir=${1:?usage: scripts/report-screenshot.sh RUN_DIR}
html="$dir/report.html"
png="$dir/report.png"
[ -f "$html" ] || { echo "k2: $html does not exist; run k2 bench run -o $dir first" >&2; exit 2; }
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$chrome" ] || { echo "k2: chromium is not installed (apt-get install chromium, or scripts/install-deps.sh)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1200,2400 --screenshot="$png" "file://$(realpath "$html")" >/dev/null 2>&1 || true
[ -s "$png" ] || { echo "k2: chromium wrote no screenshot for $html" >&2; exit 1; }
# Non-blank: decode the PNG and count distinct colours and non-white pixels (python3 + zlib only).
python3 - "$png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT": idat += body
raw = zlib.decompress(idat)
bpp = {2: 3, 6: 4}.get(ctype, 3)
stride = w * bpp
prev = bytearray(stride); colours = set(); ink = 0; i = 0; line_px = 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, stride, bpp):
            r_, g_, b_ = line[x], line[x + 1], line[x + 2]
            if abs(r_ - 31) < 40 and abs(g_ - 119) < 40 and abs(b_ - 180) < 40: line_px += 1
        for x in range(0, stride, bpp * 4):
            px = bytes(line[x:x + 3]); colours.add(px)
            if px != b"\xff\xff\xff": ink += 1
    prev = line
sampled = (h // 4 + 1) * (w // 4 + 1)
print(f"k2: {sys.argv[1]}: {w}x{h}, {len(colours)} colours, {100 * ink / sampled:.1f}% non-white (sampled), {line_px} chart-line pixels")
if len(colours) < 8 or ink / sampled <= 0.01:
    print("k2: the screenshot is blank", file=sys.stderr); sys.exit(1)
if line_px < 50:
    print("k2: no chart lines in the screenshot (the inline SVG did not render)", file=sys.stderr); sys.exit(1)
PY
