#!/usr/bin/env bash
# Runs the partition suite (xunit category "Partition"): every silo, gateway and PostgreSQL in its own network
# namespace (scripts/netns-rig.sh), a time-based load of simulated workers, one fault per scenario, a ledger check
# of every execution and command at the end. Needs root (network namespaces), iproute2 and iptables. Figures land in
# .run/partition-results/ (one .json and .md row per scenario, ledgers.md with each ledger and throughput timeline)
# and are printed at the end; docs/reliability.md records the last run.
# Extra arguments go to `dotnet test`, e.g. --filter "Category=Partition&FullyQualifiedName~Silo_kill".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

[ "$(id -u)" = 0 ] || { echo "the rig needs root (network namespaces)"; exit 1; }
command -v iptables >/dev/null || { echo "iptables missing: apt-get install -y iptables iproute2"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build tests/Integration.Tests -c Release -nologo -v q || { echo "build failed"; exit 1; }

rm -rf .run/partition-results
filter="Category=Partition"
if [ "$#" -gt 0 ] && [ "$1" = "--filter" ]; then filter="$2"; shift 2; fi
dotnet test tests/Integration.Tests -c Release --no-build -nologo --filter "$filter" --logger "console;verbosity=normal" "$@" 2>&1 | tee .run/partition-suite.log
rc=${PIPESTATUS[0]}
bash scripts/netns-rig.sh down # a run killed half-way leaves nothing behind

echo
cat .run/partition-results/ledgers.md 2>/dev/null
echo "| scenario | completed | lost / duplicated / stuck | recovery | commands/s before / during / after | client p99 before / during fault | client errors | silos declared dead | max silo PG connections ≤ bound | duration |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for row in .run/partition-results/*.md; do [ "$(basename "$row")" = ledgers.md ] || cat "$row"; done
exit "$rc"
