#!/usr/bin/env bash
# Make sure a Python >= 3.11 with venv support exists; on Debian/Ubuntu install it when
# missing. Prints the interpreter to use.
set -euo pipefail

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
       && "$candidate" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

find_python && exit 0

runner=""; [ "$(id -u)" -eq 0 ] || runner="sudo"
apt() { $runner env DEBIAN_FRONTEND=noninteractive apt-get "$@" >&2; }
echo "[ensure_python] installing python3, python3-venv and python3-dev" >&2
apt update -qq
apt install -y -qq python3 python3-venv python3-dev
find_python && exit 0
# An older release (Ubuntu 22.04 ships 3.10 as python3) may still package 3.11 separately.
echo "[ensure_python] python3 is older than 3.11; installing python3.11" >&2
apt install -y -qq python3.11 python3.11-venv python3.11-dev || true
find_python && exit 0
echo "[ensure_python] no Python >= 3.11 available; install one and re-run" >&2
exit 1
