#!/usr/bin/env bash
# Install the Debian packages that callrouter needs, and only those that are missing.
#
#   scripts/install-deps.sh NEED...     NEED is one of: python redis postgres chromium haproxy wrk
#
# Runs `apt-get update` once, and only when something is missing. Never prompts.
# DRY_RUN=1             print the apt-get commands instead of running them
# ASSUME_MISSING="a b"  treat these needs as missing (to exercise this script without uninstalling)
set -euo pipefail

KNOWN="python redis postgres chromium haproxy wrk"

have() { command -v "$1" >/dev/null 2>&1; }

# tests/servers.py looks for initdb/pg_ctl in PATH, then in /usr/lib/postgresql/*/bin.
pg_bin() { have "$1" || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null; }

assumed_missing() { [[ " ${ASSUME_MISSING:-} " == *" $1 "* ]]; }

# Print the Debian packages that one need lacks (nothing when all is there).
packages_for() {
  local need=$1 all=0
  assumed_missing "$need" && all=1
  case "$need" in
    python)  # a python3 >= 3.11 that can make a venv with pip in it
      if ((all)) || ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo python3 python3-venv
      fi ;;
    redis)
      if ((all)) || ! have redis-server; then echo redis-server; fi
      if ((all)) || ! have redis-sentinel; then echo redis-sentinel; fi ;;  # tests/servers.py: the Sentinel cluster
    postgres)  # the server binaries, and the `postgres` user that the package creates (it refuses root)
      if ((all)) || ! pg_bin initdb || ! pg_bin pg_ctl || ! id -u postgres >/dev/null 2>&1 || ! have runuser; then
        echo postgresql
      fi ;;
    haproxy)  # tests/deploy: `haproxy -c` on deploy/haproxy/callrouter.cfg, and a proxy in front of two backends;
      # `systemd-analyze verify` on deploy/systemd/*.service (the systemd package; it is not started here)
      if ((all)) || ! have haproxy; then echo haproxy; fi
      if ((all)) || ! have systemd-analyze; then echo systemd; fi ;;
    wrk)  # the load generator of the webhook benchmark
      if ((all)) || ! have wrk; then echo wrk; fi ;;
    chromium)  # headless browser tests; fonts-liberation is a recommend we skip otherwise
      if ((all)) || ! have chromium; then echo chromium fonts-liberation; fi
      if ((all)) || ! have chromedriver; then echo chromium-driver; fi ;;
  esac
}

for need in "$@"; do
  if [[ " $KNOWN " != *" $need "* ]]; then
    echo "install-deps: unknown need '$need' (known: $KNOWN)" >&2
    exit 2
  fi
done

declare -A seen=()
packages=()
for need in "$@"; do
  for pkg in $(packages_for "$need"); do
    if [[ -z ${seen[$pkg]:-} ]]; then seen[$pkg]=1; packages+=("$pkg"); fi
  done
done

if ((${#packages[@]} == 0)); then
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if have sudo; then sudo=(sudo); else
    echo "install-deps: need root to install: ${packages[*]}" >&2
    exit 1
  fi
fi

update=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q)
install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}")

echo "install-deps: missing Debian packages: ${packages[*]}" >&2
if [[ ${DRY_RUN:-0} == 1 ]]; then
  echo "DRY_RUN: ${update[*]}"
  echo "DRY_RUN: ${install[*]}"
  exit 0
fi
"${update[@]}" </dev/null
"${install[@]}" </dev/null

# Check that what was asked for is really there now.
still=()
for need in "$@"; do
  [[ -z $(ASSUME_MISSING="" packages_for "$need") ]] || still+=("$need")
done
if ((${#still[@]})); then
  echo "install-deps: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
