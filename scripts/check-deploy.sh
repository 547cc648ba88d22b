#!/usr/bin/env bash
# The deployment, checked offline: the chart lints and renders with the
# default and the all-in-one values; every rendered manifest and the
# production overlay validate against the Kubernetes schemas (strict:
# unknown fields fail); k8s/base is exactly what the chart renders (run
# `make k8s` after changing the chart); the settings file the chart writes
# is read by the binary itself (unknown keys and bad values fail). The
# dashboards' metric names are checked by `tests/deploy.rs` in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deploy-tools.sh
helm=.tools/bin/helm
kubectl=.tools/bin/kubectl
validate() { .tools/venv/bin/kubernetes-validate --strict --quiet --kubernetes-version "$K8S_VERSION" "$@"; }
K8S_VERSION="${K8S_VERSION:-1.30}"
cargo build -q -p acikkapi --bin acikkapi
acikkapi=target/debug/acikkapi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The alert rules: valid, and each fires on what should fire it (promtool's
# unit tests); every runbook they link exists in docs/operations.md.
promtool check rules helm/acikkapi/alerts/acikkapi.rules.yaml >/dev/null
(cd helm/acikkapi/alerts && promtool test rules acikkapi.rules.test.yaml >/dev/null)
for anchor in $(grep -o 'operations.md#[a-z]*' helm/acikkapi/alerts/acikkapi.rules.yaml | cut -d'#' -f2); do
  grep -qi "^### $anchor\b" docs/operations.md || { echo "deploy: no runbook '### $anchor' in docs/operations.md" >&2; exit 1; }
done
echo "deploy: alert rules checked and unit-tested, every runbook present: ok"

for values in "" helm/acikkapi/values-allinone.yaml; do
  args=()
  [ -n "$values" ] && args=(-f "$values")
  name=${values:+allinone}; name=${name:-default}
  $helm lint --strict helm/acikkapi "${args[@]}"
  $helm template acikkapi helm/acikkapi --namespace acikkapi "${args[@]}" > "$out/$name.yaml"
  validate "$out/$name.yaml"
  # The binary reads the chart's settings file (secrets as the Secret would give them).
  $helm template acikkapi helm/acikkapi "${args[@]}" --show-only templates/configmap.yaml \
    | .tools/venv/bin/python -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["data"]["acikkapi.toml"])' \
    > "$out/$name.toml"
  sed -i "s|/tmp/acikkapi|$out/data-$name|" "$out/$name.toml"
  ACIKKAPI__NOTIFICATION__HTTP_USERNAME=ci ACIKKAPI__NOTIFICATION__HTTP_PASSWORD=ci \
    ACIKKAPI__NOTIFICATION__HTTP_URL=https://sms.example.com.tr \
    "$acikkapi" --config "$out/$name.toml" migrate >/dev/null
  echo "deploy: chart with $name values: lint, render, validate, settings read by the binary: ok"
done

# Consumers scaled by KEDA on their queue's backlog: the ScaledObjects and
# their TriggerAuthentication against KEDA's schemas, the rest as above.
$helm template acikkapi helm/acikkapi --namespace acikkapi --set keda.enabled=true > "$out/keda.yaml"
validate "$out/keda.yaml"
# (run from .tools, where its packages are: ES modules resolve from the file)
cp scripts/validate-crds.mjs .tools/ && node .tools/validate-crds.mjs "$out/keda.yaml"
# The PostgreSQL connection budget holds at every HPA's maximum, or the
# chart refuses to render.
if $helm template acikkapi helm/acikkapi --set postgres.connectionBudget=30 >/dev/null 2>&1; then
  echo "deploy: the chart rendered pools beyond postgres.connectionBudget" >&2
  exit 1
fi
echo "deploy: KEDA ScaledObjects valid; pools within the connection budget: ok"

# PostgreSQL by CloudNativePG with scheduled backups: the Cluster and its
# ScheduledBackup against the operator's schemas, the rest as above.
$helm template acikkapi helm/acikkapi --namespace acikkapi --set cloudnativepg.enabled=true > "$out/cnpg.yaml"
validate "$out/cnpg.yaml"
node .tools/validate-crds.mjs "$out/cnpg.yaml"
grep -q '^kind: ScheduledBackup' "$out/cnpg.yaml" || { echo "deploy: no ScheduledBackup rendered" >&2; exit 1; }
echo "deploy: CloudNativePG Cluster with WAL archiving and a ScheduledBackup valid: ok"

# k8s/: the plain manifests are the chart's rendering, kept in step.
./scripts/render-k8s.sh "$out/base.yaml"
if ! diff -u k8s/base/acikkapi.yaml "$out/base.yaml" >/dev/null; then
  diff -u k8s/base/acikkapi.yaml "$out/base.yaml" | head -40 >&2
  echo "deploy: k8s/base/acikkapi.yaml differs from the chart's rendering: run make k8s" >&2
  exit 1
fi
$kubectl kustomize k8s/overlays/production > "$out/production.yaml"
validate "$out/production.yaml"
echo "deploy: k8s base is the chart's rendering; production overlay validates: ok"
