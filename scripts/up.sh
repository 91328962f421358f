#!/usr/bin/env bash
# Brings the system up on this machine and leaves it running:
#   PostgreSQL on 127.0.0.1:55432 (installed from Debian packages if missing),
#   one silo (PostgreSQL membership; HTTP health on 127.0.0.1:8081),
#   the API gateway on http://127.0.0.1:8082 (NoETL's port).
# Logs and pids go to .run/. Stop everything with scripts/down.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUN="$ROOT/.run"
mkdir -p "$RUN"

export NOETL_INTERNAL_API_TOKEN=${NOETL_INTERNAL_API_TOKEN:-$(cat "$RUN/internal-token" 2>/dev/null || head -c 24 /dev/urandom | base64 | tr -d '/+=' )}
echo -n "$NOETL_INTERNAL_API_TOKEN" > "$RUN/internal-token"
chmod 600 "$RUN/internal-token"

bash scripts/pg.sh start
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build NoEtl.sln -c Release -nologo -v q

# start NAME PIDFILE-NAME HEALTH-URL COMMAND...: runs a process in the background unless it already runs.
start() {
  local name=$1 health=$2; shift 2
  if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$RUN/$name.pid"))"; return
  fi
  nohup "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  for _ in $(seq 1 300); do
    if curl -fsS "$health" >/dev/null 2>&1; then echo "$name up (pid $(cat "$RUN/$name.pid"), log .run/$name.log)"; return; fi
    kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || { echo "$name exited; log:"; tail -40 "$RUN/$name.log"; exit 1; }
    sleep 0.2
  done
  echo "$name did not become healthy; log:"; tail -40 "$RUN/$name.log"; exit 1
}

export NOETL_SERVER_URL=${NOETL_SERVER_URL:-http://127.0.0.1:8082}
start silo http://127.0.0.1:8081/health \
  env ASPNETCORE_URLS=http://127.0.0.1:8081 NOETL_CLUSTERING=postgres \
  dotnet src/Silo/bin/Release/net10.0/NoEtl.Silo.dll
start gateway http://127.0.0.1:8082/api/health \
  env ASPNETCORE_URLS=http://127.0.0.1:8082 NOETL_CLUSTERING=postgres \
  dotnet src/ApiGateway/bin/Release/net10.0/NoEtl.ApiGateway.dll

echo
echo "NoETL control plane: http://127.0.0.1:8082  (internal API token in .run/internal-token)"
