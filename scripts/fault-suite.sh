#!/usr/bin/env bash
# Runs the full fault suite (xunit category "Fault"): real silo, gateway, worker, NATS and PostgreSQL processes,
# one fault per scenario, a ledger check of every execution and command at the end. Takes tens of minutes on two
# cores; scenarios run one after the other. Figures land in .run/fault-results/ (one .json and one .md row per
# scenario) and are printed at the end; docs/reliability.md records the last full run.
# Extra arguments go to `dotnet test`, e.g. --filter "Category=Fault&FullyQualifiedName~Silo_kill".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/pg.sh start >/dev/null || { echo "PostgreSQL did not start"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build tests/Integration.Tests -c Release -nologo -v q || { echo "build failed"; exit 1; }

rm -rf .run/fault-results
filter="Category=Fault"
if [ "$#" -gt 0 ] && [ "$1" = "--filter" ]; then filter="$2"; shift 2; fi
dotnet test tests/Integration.Tests -c Release --no-build -nologo --filter "$filter" --logger "console;verbosity=normal" "$@" 2>&1 | tee .run/fault-suite.log
rc=${PIPESTATUS[0]}

echo
echo "| scenario | completed | lost / duplicated / stuck | recovery | commands/s before / during / after | max silo PG connections ≤ bound | client errors | duration |"
echo "|---|---|---|---|---|---|---|---|"
cat .run/fault-results/*.md 2>/dev/null
exit "$rc"
