#!/usr/bin/env bash
# `make deploy-smoke`: the chart's pods started here with `podman kube play`,
# from the image `make image` built, on this machine's PostgreSQL, RabbitMQ
# and Redis, for the all-in-one values and the microservices values.
#
# For each: the chart is rendered (helm template) and validated
# (kubernetes-validate --strict, every kind); the migrate Job's pod runs
# first and must exit 0; every Deployment's pod is played and waited for
# until its readiness endpoint answers (start-to-ready timed); a citizen
# applies through the portal pod over HTTP (every page, CSRF, the session
# cookie) and opens the tracking page with the number and code given, and
# the application is followed to routed with its receipt SMS
# at a fake SMS gateway (scripts/deploy-smoke/gateway.py, the provider's
# API); a burst then goes to the intake pod over gRPC and, while its
# events are still being consumed, every pod is stopped as Kubernetes
# stops it (SIGTERM, the grace period) and must exit 0; the pods are
# played again and every application is judged effect by effect
# (load-tests/chaos-check.sql): 0 lost, 0 doubled.
#
# What kube play cannot run (Services, Ingress, HPA, PDB, NetworkPolicy,
# ServiceMonitor, PrometheusRule, CronJob) is only validated; which kinds
# those were is printed. How the manifests are made playable on one host
# (host network, a loopback address a pod, Services by address):
# scripts/deploy-smoke/play.py.
set -euo pipefail
cd "$(dirname "$0")/.."
. load-tests/verdict.sh
export CONTAINERS_CONF="$PWD/scripts/image/containers.conf"
./scripts/image/tools.sh
image="${IMAGE:-localhost/acikkapi:dev}"
BURST="${BURST:-300}"
[ -x target/release/acikkapi-load ] || { echo "build first: make release" >&2; exit 1; }
./scripts/deploy-tools.sh
helm=.tools/bin/helm
python=.tools/venv/bin/python
"$python" -c 'import yaml' 2>/dev/null || .tools/venv/bin/pip install -q pyyaml
validate() { .tools/venv/bin/kubernetes-validate --strict --quiet --kubernetes-version "${K8S_VERSION:-1.30}" "$@"; }

work=$(mktemp -d)
stamp=$(date +%s)
gateway_port=${SMOKE_GATEWAY_PORT:-18790}
key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }
fail() { echo "deploy-smoke: $*" >&2; exit 1; }
podman image exists "$image" || fail "no image $image: make image"
gateway_pid=""
played=""
secrets=()
cleanup() {
  [ -z "$played" ] || podman kube down "$played" >/dev/null 2>&1 || true
  for s in "${secrets[@]}"; do podman secret rm "$s" >/dev/null 2>&1 || true; done
  [ -z "$gateway_pid" ] || kill "$gateway_pid" 2>/dev/null || true
  for v in allinone microservices; do
    psql -h 127.0.0.1 -U postgres -d test -qc "DROP SCHEMA IF EXISTS smoke_${stamp}_$v CASCADE" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

python3 scripts/deploy-smoke/gateway.py "$gateway_port" "$work/gateway" &
gateway_pid=$!
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(podman --version), runc $(runc --version | awk 'NR==1{print $3}')"
echo "image: $image, $(($(podman image inspect --format '{{.Size}}' "$image") / 1000000)) MB"

smoke() { # name, helm value arguments…
  local name=$1 dir="$work/$1" schema="smoke_${stamp}_$1" t ready pod ip
  shift
  mkdir -p "$dir"
  local auth_keys
  auth_keys="smoke:$(key)"
  local sets=(
    --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never
    --set secrets.create=true
    --set-string secrets.values.store-url=postgres://postgres@127.0.0.1:5432/test
    --set-string "secrets.values.bus-url=amqp://guest:guest@127.0.0.1:5672/%2f"
    --set-string secrets.values.cache-url=redis://127.0.0.1:6379/
    --set-string secrets.values.auth-keys="$auth_keys"
    --set-string secrets.values.privacy-keys="smoke:$(key)"
    --set-string secrets.values.privacy-hash-key="$(key)"
    --set-string secrets.values.tracking-key="$(key)"
    --set-string secrets.values.sms-password=smoke
    --set-string secrets.values.sms-callback-token=smoke
    --set-string config.store.schema="$schema"
    --set-string config.bus.prefix="smoke$stamp$name"
    --set-string config.cache.prefix="smoke$stamp$name"
    --set-string config.notification.provider=http
    --set-string config.notification.http_url="http://127.0.0.1:$gateway_port"
    --set-string config.notification.http_username=smoke
  )
  $helm template acikkapi helm/acikkapi --namespace acikkapi "$@" "${sets[@]}" >"$dir/rendered.yaml"
  validate "$dir/rendered.yaml"
  "$python" scripts/deploy-smoke/play.py "$dir" <"$dir/rendered.yaml"
  echo "== $name: rendered and validated; only validated (kube play has none): $(cat "$dir/skipped.txt")"
  local secret
  for secret in "$dir"/secret-*.json; do
    secret=$(basename "$secret" .json); secret=${secret#secret-}
    podman secret rm "$secret" >/dev/null 2>&1 || true
    podman secret create "$secret" "$dir/secret-$secret.json" >/dev/null
    secrets+=("$secret")
  done

  # The migrate Job first (its pod), which must exit 0.
  t=$(now)
  played="$dir/migrate.yaml"
  podman kube play --quiet "$played" >/dev/null
  podman wait acikkapi-migrate-migrate >/dev/null
  local code
  code=$(podman inspect --format '{{.State.ExitCode}}' acikkapi-migrate-migrate)
  [ "$code" = 0 ] || { podman logs acikkapi-migrate-migrate | tail -20 >&2; fail "$name: migrate exited $code"; }
  podman kube down "$played" >/dev/null
  played=""
  echo "   migrate Job's pod: exit 0 in $(since "$t") s"

  play() { # waits for every pod's readiness; prints start-to-ready
    t=$(now)
    played="$dir/app.yaml"
    podman kube play --quiet "$played" >/dev/null 2>"$dir/play.log"
    while IFS=$'\t' read -r pod ip; do
      ready=""
      for _ in $(seq 1 600); do
        if curl -fsS "http://$ip:9464/readyz" >/dev/null 2>&1; then ready=$(since "$t"); break; fi
        sleep 0.1
      done
      [ -n "$ready" ] || { podman logs "$pod-pod-0-acikkapi" 2>&1 | tail -20 >&2 || true; fail "$name: $pod not ready in 60 s"; }
      printf '   %-26s ready %5s s after kube play\n' "$pod" "$ready"
    done <"$dir/pods.tsv"
  }
  stop() { # SIGTERM to every pod at once, as a rollout or a drain does; exit codes
    t=$(now)
    local c codes pod stoppers=()
    # Each pod at once, as a node drain does (podman stops a list in turn).
    for pod in $(podman pod ps -q --filter "name=^acikkapi-"); do
      podman pod stop -t 40 "$pod" >/dev/null 2>>"$dir/play.log" &
      stoppers+=($!)
    done
    wait "${stoppers[@]}"
    for c in $(podman ps -a --format '{{.Names}}' --filter "name=^acikkapi-.*-acikkapi$"); do
      codes+="$c=$(podman inspect --format '{{.State.ExitCode}}' "$c") "
    done
    echo "   stopped (SIGTERM) in $(since "$t") s: $codes"
    echo "$codes" | grep -qv '=[1-9]' || fail "$name: a pod did not exit 0 on SIGTERM"
    podman kube down "$played" >/dev/null 2>>"$dir/play.log"
    played=""
  }
  addr_of() { awk -v p="$1" '$1 ~ p {print $2}' "$dir/pods.tsv"; }
  sql() { psql -h 127.0.0.1 -U postgres -d test -tAqc "SET search_path TO $schema; $1"; }

  play
  # A citizen applies through the portal pod.
  local portal intake number code unit
  portal=$(addr_of 'portal$|all$')
  intake=$(addr_of 'intake$|all$')
  python3 scripts/deploy-smoke/apply.py "$portal:8080" "$stamp" >"$dir/applied" || {
    podman logs "$(awk '$1 ~ /portal$|all$/ {print $1}' "$dir/pods.tsv")-pod-0-acikkapi" 2>&1 | tail -20 >&2
    fail "$name: the citizen's application through the portal failed"
  }
  read -r number code <"$dir/applied"
  number=${number//-/}
  unit=""
  for _ in $(seq 1 100); do
    unit=$(sql "SELECT unit_id FROM applications WHERE number = '$number'")
    [ -n "$unit" ] && [ "$(sql "SELECT COUNT(*) FROM sms_messages WHERE number = '$number' AND template = 'receipt' AND status = 'sent'")" = 1 ] && break
    sleep 0.1
  done
  [ -n "$unit" ] || fail "$name: $number was not routed"
  grep -qxF "$(sql "SELECT id FROM sms_messages WHERE number = '$number' AND template = 'receipt'")" "$work/gateway" \
    || fail "$name: the receipt SMS of $number did not reach the gateway"
  echo "   applied through the portal: $number (its tracking page opened with the code), routed to $unit, receipt SMS at the gateway"
  echo "$number" >"$dir/numbers"

  # A burst to the intake pod; the pods stopped while it is consumed.
  ACIKKAPI__AUTH__KEYS="$auth_keys" target/release/acikkapi-load --addr "http://$intake:50051" --total "$BURST" --concurrency 8 \
    --retry-secs 60 --numbers "$dir/numbers" --seed $((stamp % 100000 * 1000)) --label "smoke $name" >"$dir/load.out" 2>&1 \
    || { cat "$dir/load.out" >&2; fail "$name: the burst failed"; }
  local waiting
  waiting=$(sql "SELECT (SELECT COUNT(*) FROM applications) - (SELECT COUNT(*) FROM sms_messages WHERE template = 'receipt' AND status = 'sent')")
  echo "   burst of $BURST through the intake pod; $waiting applications still without a sent receipt when the pods are stopped"
  stop
  play
  # Every application, effect by effect, once the second life drained.
  local result
  for _ in $(seq 1 600); do
    result=$(verdict "host=127.0.0.1 port=5432 dbname=test user=postgres" "$schema" "$dir/numbers" "$work/gateway")
    echo "$result" | arrived && break
    sleep 0.1
  done
  stop
  echo "$result" | judged | sed 's/^/   /' || fail "$name: applications lost or doubled"
  echo "   $name: $(wc -l <"$dir/numbers") applications, 0 lost, 0 doubled"
}

smoke allinone -f helm/acikkapi/values-allinone.yaml
smoke microservices
echo "deploy-smoke: ok"
