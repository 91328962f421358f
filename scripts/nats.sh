#!/usr/bin/env bash
# nats.sh start|stop|status — a throwaway JetStream nats-server on loopback for the worker, tests and CI.
# Adapted from shared/spec/nats-recipe.md (tested with Debian 12's nats-server 2.9.10).
#   env: NATS_PORT (14222)  NATS_MON_PORT (18222)  NATS_DIR (<repo>/.data/nats, git-ignored)
#        NATS_RUN_AS=<user> (root only: run as that user, e.g. 'nats' made by the package)  NATS_CLEAN=1 (wipe store)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATS_PORT=${NATS_PORT:-14222}; NATS_MON_PORT=${NATS_MON_PORT:-18222}
NATS_DIR=${NATS_DIR:-$ROOT/.data/nats}
BIN=/usr/sbin/nats-server            # /usr/sbin is not on a normal user's PATH
PIDF="$NATS_DIR/nats.pid"

running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }
healthy() { curl -fsS "http://127.0.0.1:$NATS_MON_PORT/healthz?js-enabled-only=true" >/dev/null 2>&1; }

case "${1:-start}" in
start)
  if [ ! -x "$BIN" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  if running; then echo "nats-server already running pid=$(cat "$PIDF") NATS_URL=nats://127.0.0.1:$NATS_PORT"; exit 0; fi
  [ "${NATS_CLEAN:-0}" = 1 ] && rm -rf "$NATS_DIR/store"
  mkdir -p "$NATS_DIR/store"
  RUNAS=()
  if [ "$(id -u)" = 0 ] && [ -n "${NATS_RUN_AS:-}" ]; then chown -R "$NATS_RUN_AS" "$NATS_DIR"; RUNAS=(runuser -u "$NATS_RUN_AS" --); fi
  # stdio detached, or a caller's `| tee` never sees EOF while the server lives
  "${RUNAS[@]}" "$BIN" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON_PORT" -js -sd "$NATS_DIR/store" \
      -l "$NATS_DIR/nats.log" -P "$PIDF" </dev/null >/dev/null 2>&1 &
  launcher=$!
  for _ in $(seq 1 500); do
    if healthy; then
      echo "nats-server $("$BIN" --version | awk '{print $2}') pid=$(cat "$PIDF") NATS_URL=nats://127.0.0.1:$NATS_PORT"; exit 0; fi
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.02
  done
  echo "nats-server failed to start; log:" >&2; cat "$NATS_DIR/nats.log" >&2 || true; exit 1 ;;
stop)
  [ -f "$PIDF" ] || { echo "no pid file $PIDF"; exit 0; }
  pid=$(cat "$PIDF"); kill -TERM "$pid" 2>/dev/null || true
  # JetStream flushes on SIGTERM (1-2 s); wait so a restart on the same store is safe
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || { echo "nats-server $pid stopped"; rm -f "$PIDF"; exit 0; }; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true; rm -f "$PIDF"; echo "nats-server $pid killed after 10 s" ;;
status)
  if running && healthy; then echo "nats-server running pid=$(cat "$PIDF") NATS_URL=nats://127.0.0.1:$NATS_PORT"; exit 0; fi
  if running; then echo "nats-server pid=$(cat "$PIDF") is up but not healthy on :$NATS_MON_PORT" >&2; exit 1; fi
  echo "nats-server not running"; exit 3 ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
