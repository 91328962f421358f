#!/usr/bin/env bash
# Runs the whole test suite against real services on 127.0.0.1: starts PostgreSQL and NATS (installing them from Debian
# packages if needed), builds the solution in Release, runs every test project and prints "N passed, N failed".
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Claim").
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/pg.sh start || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/nats.sh start || { echo "0 passed, 1 failed"; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ! dotnet build NoEtl.sln -c Release -nologo -v q; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

mkdir -p .run
log=.run/test.log
# The full fault suite (Category=Fault) is opt-in: scripts/fault-suite.sh. A reduced form runs here, and so does the
# reduced fuzz suite (Category=Fuzz; the full one is scripts/fuzz-suite.sh, NOETL_FUZZ_FULL=1). The partition suite
# (Category=Partition) is opt-in: scripts/partition-suite.sh. Its reduced form (PartitionReduced: one rig of network
# namespaces, a silo partitioned from the silos, then a silo killed) runs here when we are root; it needs iproute2
# and iptables, installed here from Debian packages if missing.
filter=(--filter "Category!=Fault&Category!=Partition")
if [ "$(id -u)" = 0 ]; then
  if ! command -v iptables >/dev/null || ! command -v ip >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 iptables >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 iptables >/dev/null; }
  fi
else
  echo "not root: the reduced partition test (network namespaces) is skipped"
  filter=(--filter "Category!=Fault&Category!=Partition&Category!=PartitionReduced")
fi
for arg in "$@"; do [ "$arg" = "--filter" ] && filter=(); done
dotnet test NoEtl.sln -c Release --no-build -nologo "${filter[@]}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# VSTest prints one summary line per test project: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12".
read -r passed failed < <(grep -E "^(Passed|Failed)!" "$log" | awk '
  { for (i = 1; i < NF; i++) { gsub(",", "", $(i + 1)); if ($i == "Passed:") p += $(i + 1); if ($i == "Failed:") f += $(i + 1) } }
  END { print p + 0, f + 0 }')
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
