#!/usr/bin/env bash
# Stops what scripts/up.sh started (workers, gateway, silo, then NATS and PostgreSQL unless --keep-services).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN="$ROOT/.run"
for name in worker-shared worker-system gateway silo; do
  pidfile="$RUN/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "$name stopped"
  fi
  rm -f "$pidfile"
done
if [ "${1:-}" != "--keep-services" ]; then
  bash "$ROOT/scripts/nats.sh" stop
  bash "$ROOT/scripts/pg.sh" stop
fi
