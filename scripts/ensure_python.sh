#!/usr/bin/env bash
# Make sure a Python >= 3.11 with venv support exists; on Debian/Ubuntu install it when
# missing. Prints the interpreter to use.
set -euo pipefail
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    command -v "$candidate"
    exit 0
  fi
done
echo "[ensure_python] installing python3, python3-venv and python3-dev" >&2
runner=""; [ "$(id -u)" -eq 0 ] || runner="sudo"
$runner env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
$runner env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-dev >&2
command -v python3
