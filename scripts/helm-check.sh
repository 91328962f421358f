#!/usr/bin/env bash
# CI checks for the Helm chart (issue 7): `helm lint --strict` and `helm template` for the default values and the
# two documented profiles, rendered into .run/helm/<profile>.yaml for tests/Deploy.Tests and for review; a few
# values the schema must refuse; and no profile turning on NOETL_DEV_MODE or NOETL_AUTH_DISABLED.
# Helm comes from ../shared/tools/get-helm.sh (the shared/ folder is a sibling of the repo checkout) into the
# git-ignored .tools/bin. Exits non-zero on the first failure.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

chart=helm/noetl
out=.run/helm
release=noetl
namespace=noetl

if [ ! -x .tools/bin/helm ]; then
  get_helm="$(dirname "$ROOT")/shared/tools/get-helm.sh"
  [ -f "$get_helm" ] || { echo "helm-check: $get_helm not found (expected shared/ next to the repo)" >&2; exit 1; }
  bash "$get_helm" .tools/bin >/dev/null
fi
helm=.tools/bin/helm
"$helm" version --short

mkdir -p "$out"
for profile in default dev prod; do
  args=()
  [ "$profile" = default ] || args=(-f "$chart/profiles/$profile.yaml")
  echo "== $profile: lint"
  "$helm" lint --strict "$chart" "${args[@]}"
  echo "== $profile: template -> $out/$profile.yaml"
  "$helm" template "$release" "$chart" --namespace "$namespace" "${args[@]}" > "$out/$profile.yaml"
done

# values.schema.json must reject bad values at install time, not let them through to the cluster.
for bad in silo.replicas=three auth.disabled=maybe encryptionKey.value=not-a-key; do
  echo "== schema rejects $bad"
  if "$helm" template "$release" "$chart" --set "$bad" >/dev/null 2>&1; then
    echo "helm-check: $bad rendered; values.schema.json is not enforced" >&2
    exit 1
  fi
done

# No profile may ship the development escape hatches: the insecure well-known encryption key or an open API.
for profile in default dev prod; do
  if grep -A1 -E 'name: (NOETL_DEV_MODE|NOETL_AUTH_DISABLED)$' "$out/$profile.yaml" | grep -qiE 'value: "?true'; then
    echo "helm-check: $profile sets NOETL_DEV_MODE or NOETL_AUTH_DISABLED to true" >&2
    exit 1
  fi
done
echo "helm-check: ok"
