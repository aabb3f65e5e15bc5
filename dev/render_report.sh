#!/usr/bin/env bash
# Screenshots a run report in a real browser (headless Chromium), to check it
# renders: dev/render_report.sh out/run/report.html [shot.png] [width]
# Needs chromium (Debian/Ubuntu: apt-get install -y chromium). The page has no
# scripts and fetches nothing, so it renders offline; the file is opened read-only.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: $0 REPORT.html [SHOT.png (default: REPORT.png)] [WIDTH (default 1200)]"
    exit 0
fi
html=$1
shot=${2:-${html%.html}.png}
width=${3:-1200}
[ -f "$html" ] || { echo "error: $html not found" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "error: no chromium found (apt-get install -y chromium)" >&2; exit 1; }
# tall enough for the whole page: the charts, the config table and a sample
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$width,2400" --screenshot="$shot" "file://$(realpath "$html")" >/dev/null 2>&1
[ -s "$shot" ] || { echo "error: chromium wrote no screenshot to $shot" >&2; exit 1; }
echo "wrote $shot"
