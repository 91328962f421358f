#!/usr/bin/env bash
# Runs the full fuzz suite (xunit category "Fuzz" with NOETL_FUZZ_FULL=1): a real silo and gateway, every route ×
# method of the OpenAPI document, every mutation (malformed JSON, wrong types, 1 MB strings, deep nesting, duplicate
# keys, lone surrogates, NUL, overflow numbers, bad paging and path ids) with every principal; no answer may be a 5xx
# and a refused request must write no row. A few thousand requests, a few minutes on two cores. The reduced form runs
# in scripts/test.sh. The status histogram per route is printed; the run's log lands in .run/fuzz-suite.log.
# Extra arguments go to `dotnet test`.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# A server already listening (another work tree's) is used as it is.
(echo >"/dev/tcp/127.0.0.1/${NOETL_PG_PORT:-55432}") 2>/dev/null || bash scripts/pg.sh start >/dev/null || { echo "PostgreSQL did not start"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NOETL_FUZZ_FULL=1
dotnet build tests/Integration.Tests -c Release -nologo -v q || { echo "build failed"; exit 1; }

mkdir -p .run
dotnet test tests/Integration.Tests -c Release --no-build -nologo --filter "Category=Fuzz" --logger "console;verbosity=detailed" "$@" 2>&1 | tee .run/fuzz-suite.log
exit "${PIPESTATUS[0]}"
