#!/usr/bin/env bash
# Brings the whole system up on this machine, leaves it running, and runs a playbook end to end:
#   PostgreSQL on 127.0.0.1:55432 and NATS JetStream on 127.0.0.1:14222 (installed from Debian packages if missing),
#   one silo (PostgreSQL membership; HTTP health on 127.0.0.1:8081),
#   the API gateway on http://127.0.0.1:8082 (NoETL's port),
#   a system-pool worker (it also publishes the outbox to NATS) and a user-pool worker.
# Then it registers examples/*.yaml and runs examples/hello_world.yaml with the noetl CLI.
# Logs and pids go to .run/. Stop everything with scripts/down.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUN="$ROOT/.run"
mkdir -p "$RUN"

export NOETL_INTERNAL_API_TOKEN=${NOETL_INTERNAL_API_TOKEN:-$(cat "$RUN/internal-token" 2>/dev/null || head -c 24 /dev/urandom | base64 | tr -d '/+=' )}
echo -n "$NOETL_INTERNAL_API_TOKEN" > "$RUN/internal-token"
chmod 600 "$RUN/internal-token"

# Bearer tokens of the public API: the operator (CLI) and the user pool. The gateway keeps only their digests.
for principal in operator shared-pool; do
  [ -s "$RUN/$principal-token" ] || { head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$RUN/$principal-token"; chmod 600 "$RUN/$principal-token"; }
done
digest() { sha256sum "$RUN/$1-token" | awk '{print $1}'; }
cat > "$RUN/api-tokens.json" <<JSON
{"principals": [
  {"name": "operator", "role": "operator", "token_sha256": "$(digest operator)"},
  {"name": "shared-pool", "role": "worker", "pool": "shared", "token_sha256": "$(digest shared-pool)"}
]}
JSON
export NOETL_API_TOKENS_FILE="$RUN/api-tokens.json"
export NOETL_API_TOKEN=$(cat "$RUN/operator-token")

# The credential encryption key: kept across restarts, or credentials written before become unreadable.
export NOETL_ENCRYPTION_KEY=${NOETL_ENCRYPTION_KEY:-$(cat "$RUN/encryption-key" 2>/dev/null || head -c 32 /dev/urandom | base64)}
echo -n "$NOETL_ENCRYPTION_KEY" > "$RUN/encryption-key"
chmod 600 "$RUN/encryption-key"

bash scripts/pg.sh start
bash scripts/nats.sh start
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in src/Silo src/ApiGateway src/Worker src/Cli; do
  dotnet build "$project" -c Release -nologo -v q
done

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
  env ASPNETCORE_URLS=http://127.0.0.1:8082 NOETL_CLUSTERING=postgres NOETL_OPERATOR_TOKEN="$NOETL_API_TOKEN" \
  dotnet src/ApiGateway/bin/Release/net10.0/NoEtl.ApiGateway.dll

# wait_registered NAME: a worker is up once the gateway lists it as ready.
wait_registered() {
  for _ in $(seq 1 300); do
    curl -fsS -H "Authorization: Bearer $NOETL_API_TOKEN" "http://127.0.0.1:8082/api/worker/pools?status=ready" 2>/dev/null | grep -q "\"$1\"" && { echo "$1 registered"; return; }
    kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null || { echo "$1 exited; log:"; tail -40 "$RUN/$1.log"; exit 1; }
    sleep 0.2
  done
  echo "$1 did not register; log:"; tail -40 "$RUN/$1.log"; exit 1
}

export NATS_URL=${NATS_URL:-nats://127.0.0.1:14222}
for pool in system shared; do
  name="worker-$pool"
  if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then echo "$name already running"; continue; fi
  if [ "$pool" = system ]; then
    # Only the system pool gets the internal token, through its keychain allow-list.
    env -u NOETL_API_TOKEN WORKER_ID=$name NOETL_KEYCHAIN_ENV_VARS=NOETL_INTERNAL_API_TOKEN \
      nohup dotnet src/Worker/bin/Release/net10.0/NoEtl.Worker.dll --pool system >"$RUN/$name.log" 2>&1 </dev/null &
  else
    env -u NOETL_INTERNAL_API_TOKEN WORKER_ID=$name NOETL_API_TOKEN="$(cat "$RUN/shared-pool-token")" \
      nohup dotnet src/Worker/bin/Release/net10.0/NoEtl.Worker.dll --pool shared >"$RUN/$name.log" 2>&1 </dev/null &
  fi
  echo $! >"$RUN/$name.pid"
  wait_registered "$name"
done

echo
# The credential alias of examples/postgres_step: the local tenant database made by scripts/pg.sh.
curl -fsS http://127.0.0.1:8082/api/credentials -H 'content-type: application/json' -H "Authorization: Bearer $NOETL_API_TOKEN" -d '{"name": "demo_db", "type": "postgres",
  "description": "tenant database of the examples",
  "data": {"host": "127.0.0.1", "port": 55432, "user": "noetl_demo", "password": "noetl_demo", "database": "noetl_demo"}}' >/dev/null \
  && echo "credential demo_db registered"
for file in examples/*.yaml; do bash scripts/noetl register "$file"; done
echo
bash scripts/noetl run examples/hello_world.yaml

echo
echo "NoETL control plane: http://127.0.0.1:8082  (tokens in .run/: operator-token, shared-pool-token, internal-token)"
echo "Try: bash scripts/noetl run examples/loop.yaml   |   stop: bash scripts/down.sh"
