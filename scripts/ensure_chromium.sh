#!/usr/bin/env bash
# Page tests drive headless Chromium; install Debian's package when it is missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
runner=""; [ "$(id -u)" -eq 0 ] || runner="sudo"
echo "[ensure_chromium] installing chromium" >&2
$runner env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
$runner env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
