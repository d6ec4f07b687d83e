#!/usr/bin/env bash
# make run: a Redis (given, already running, or started here), migrations, the demo directory,
# then the processes of the Procfile under honcho. Ctrl-C stops them all, and the Redis if started here.
#
# Nothing is left behind, however this script ends: every process started from here carries
# CALLROUTER_RUN_ID in its environment, and a lifeline (callrouter/demo/lifeline.py, in a session of
# its own) ends every process with this run's id once this shell is gone, even after a SIGKILL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
export PYTHONUNBUFFERED=1
export CALLROUTER_RUN_ID="run-$$-$(date +%s%N)"
VAR=${CALLROUTER_VAR_DIR:-$ROOT/var}  # local state: logs, the emulator's config, Redis data
export CALLROUTER_VAR_DIR=$VAR
python -m callrouter.demo.lifeline --parent $$ --marker "CALLROUTER_RUN_ID=$CALLROUTER_RUN_ID" </dev/null &

export PORT=${PORT:-8000}
export EMULATOR_PORT=${EMULATOR_PORT:-8010}
export OIDC_PORT=${OIDC_PORT:-9400}
export CALLROUTER_OIDC_PROVIDERS=${CALLROUTER_OIDC_PROVIDERS:-"[{\"key\":\"demo\",\"label\":\"Demo-inlog\",\"issuer\":\"http://127.0.0.1:$OIDC_PORT\",\"client_id\":\"callrouter-demo\",\"client_secret\":\"dev-oidc-secret-not-secret\"}]"}
export CALLROUTER_PUBLIC_URL=${CALLROUTER_PUBLIC_URL:-http://127.0.0.1:$PORT}
export CALLROUTER_TWILIO_API_BASE_URL=${CALLROUTER_TWILIO_API_BASE_URL:-http://127.0.0.1:$EMULATOR_PORT}
REDIS_GIVEN=${CALLROUTER_REDIS_URL:+1}
export CALLROUTER_REDIS_URL=${CALLROUTER_REDIS_URL:-redis://127.0.0.1:6379/0}

say() { printf '\n== %s\n' "$*"; }
die() { printf 'make run: %s\n' "$*" >&2; exit 1; }

redis_answers() {
  python - "$1" <<'PY'
import sys
import redis
try:
    ok = redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PY
}

port_free() {
  python - "$1" <<'PY'
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
PY
}

port_free "$PORT" || die "port $PORT is taken: stop what listens there, or set PORT=..."
port_free "$EMULATOR_PORT" || die "port $EMULATOR_PORT is taken: stop what listens there, or set EMULATOR_PORT=..."
port_free "$OIDC_PORT" || die "port $OIDC_PORT is taken: stop what listens there, or set OIDC_PORT=..."

REDIS_PID=
stop_redis() {
  if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
    echo "make run: stopping the Redis started here (pid $REDIS_PID)"
    kill "$REDIS_PID" && wait "$REDIS_PID" 2>/dev/null || true
  fi
}
DEMO_DAY_PID=
stop_demo_day() {  # before Redis: the demo day plays on it
  if [[ -n $DEMO_DAY_PID ]] && kill -0 "$DEMO_DAY_PID" 2>/dev/null; then
    kill -TERM "$DEMO_DAY_PID" 2>/dev/null || true
    wait "$DEMO_DAY_PID" 2>/dev/null || true
  fi
}
cleanup() {
  trap '' INT TERM HUP  # a second Ctrl-C does not cut the clean-up short
  stop_demo_day
  stop_redis
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say "Redis"
if redis_answers "$CALLROUTER_REDIS_URL"; then
  echo "reusing the Redis that answers at $CALLROUTER_REDIS_URL"
elif [[ -n $REDIS_GIVEN ]]; then
  die "nothing answers at CALLROUTER_REDIS_URL=$CALLROUTER_REDIS_URL (start it, or unset the variable to get a local one)"
else
  bash scripts/install-deps.sh redis
  mkdir -p "$VAR/redis"
  # its own session: Ctrl-C reaches honcho's processes first, and the trap stops Redis after them
  setsid redis-server --port 6379 --bind 127.0.0.1 --dir "$VAR/redis" --logfile "$VAR/redis/redis.log" &
  REDIS_PID=$!
  for _ in $(seq 100); do
    redis_answers "$CALLROUTER_REDIS_URL" && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited; see $VAR/redis/redis.log"
    sleep 0.1
  done
  redis_answers "$CALLROUTER_REDIS_URL" || die "redis-server does not answer; see $VAR/redis/redis.log"
  echo "started redis-server on 127.0.0.1:6379 (pid $REDIS_PID, data and log in $VAR/redis/)"
fi

say "Database: migrations and the demo directory"
mkdir -p "$VAR"
echo "database: ${CALLROUTER_DATABASE_URL:-sqlite file var/callrouter.sqlite3 (default)}"
callrouter db upgrade
# DEMO_HOURS=real keeps the agencies' real opening hours; by default the demo is open around the
# clock so that a call gets through at any hour.
if [[ ${DEMO_HOURS:-always} == real ]]; then
  callrouter directory import demo/directory.yaml
else
  callrouter directory import "$(callrouter demo always-open demo/directory.yaml --out "$VAR/directory-always-open.yaml")"
fi
callrouter demo emulator-config --out "$VAR/emulator.json"
callrouter demo on-duty
# Demo staff accounts at the local mock identity provider (started by the Procfile).
for who in uwv-jan:UWV duo-eva:DUO; do
  callrouter staff grant --issuer "http://127.0.0.1:$OIDC_PORT" --subject "${who%%:*}" --role liaison \
    --organisation "${who##*:}" --liaison "${who%%:*}"
done
callrouter staff grant --issuer "http://127.0.0.1:$OIDC_PORT" --subject beheer --role admin

# The demo day: once the live workers are up, a working day (yesterday, or the last weekday) is played
# through the emulator at high speed and rolled up, so the dashboard has figures within a minute.
# Skipped when that day already has calls (a second `make run`) or with DEMO_DAY=0; a failure is
# logged and leaves the stack running.
start_demo_day() {
  [[ ${DEMO_DAY:-1} == 0 ]] && return 0
  echo "  Filling the dashboard with a demo working day in the background (about a minute; log: $VAR/demo-day.log)."
  echo
  demo_day_job &
  DEMO_DAY_PID=$!
}
# In the background; SIGTERM (from cleanup) is passed on to what runs, and `wait` lets the trap run at once.
# `callrouter demo day` also stops on Ctrl-C by itself (it handles SIGINT, which bash ignores here).
# shellcheck disable=SC2086  # DEMO_DAY_ARGS: words on purpose
demo_day_job() {
  local pid=
  trap '[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; wait; exit 143' TERM
  trap '' INT HUP  # Ctrl-C: the demo day handles it itself; this shell waits for it to finish
  python - "$CALLROUTER_REDIS_URL" <<'PY' &
import sys, time
import redis
from rq import Worker
conn = redis.Redis.from_url(sys.argv[1])
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not Worker.all(connection=conn):
    time.sleep(0.5)
time.sleep(1)
PY
  pid=$!
  wait "$pid" || true
  callrouter demo day --if-empty --log-dir "$VAR/demo-day" ${DEMO_DAY_ARGS:-} >"$VAR/demo-day.log" 2>&1 &
  pid=$!
  if wait "$pid"; then
    sed -e 's/^/make run: /' "$VAR/demo-day.log"
  else
    echo "make run: the demo day failed or was stopped (the service runs on); see $VAR/demo-day.log" >&2
  fi
}

say "callrouter is starting (Ctrl-C stops it)"
cat <<TXT
  service          $CALLROUTER_PUBLIC_URL
  API docs         $CALLROUTER_PUBLIC_URL/docs
  Twilio emulator  $CALLROUTER_TWILIO_API_BASE_URL
  Redis            $CALLROUTER_REDIS_URL

  Staff console    $CALLROUTER_PUBLIC_URL/staff/  (log in as uwv-jan or duo-eva; any other name: "no access yet")

  Try a call (in another terminal):  .venv/bin/callrouter demo call
TXT
echo
start_demo_day
# honcho gives each process PORT=base+100*n: web comes first in the Procfile and gets $PORT.
honcho start --procfile Procfile --port "$PORT"
