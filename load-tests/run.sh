#!/usr/bin/env bash
# Runs the load generator against a release build of `acikkapi serve`:
#   load-tests/run.sh embedded     SQLite + in-process bus + in-memory cache
#   load-tests/run.sh production   PostgreSQL + RabbitMQ + Redis on loopback
# Two runs of 10,000 submissions each: closed loop at 32 concurrent clients
# (throughput), then 1,000/s offered by 32 clients (latency at that rate).
set -euo pipefail
mode="${1:?usage: load-tests/run.sh embedded|production}"
cd "$(dirname "$0")/.."
bin=target/release/acikkapi
load=target/release/acikkapi-load
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: make release" >&2; exit 1; }

work=$(mktemp -d)
stamp=$(date +%s)
export ACIKKAPI__DATA_DIR="$work"
export ACIKKAPI__SERVER__GRPC_ADDR=127.0.0.1:50151
export ACIKKAPI__SERVER__HTTP_ADDR=127.0.0.1:9565
export ACIKKAPI__TELEMETRY__LOG_FILTER=warn
# One channel-service token sends every submission here, as the web portal
# would at a national burst: its per-client limit is raised out of the way,
# but still counted on every call (in Redis on production), so the figures
# include what the limiter costs. Identity numbers are all distinct.
export ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE="${ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE:-100000000}"
case "$mode" in
  embedded) ;;
  production)
    export ACIKKAPI__STORE__URL=postgres://postgres@127.0.0.1:5432/test
    export ACIKKAPI__STORE__SCHEMA="load_$stamp"
    export ACIKKAPI__BUS__URL='amqp://guest:guest@127.0.0.1:5672/%2f'
    export ACIKKAPI__BUS__PREFIX="load$stamp"
    export ACIKKAPI__BUS__QUEUE_EXPIRES_MS=600000
    export ACIKKAPI__CACHE__URL=redis://127.0.0.1:6379/
    export ACIKKAPI__CACHE__PREFIX="load$stamp"
    export ACIKKAPI__INTAKE__TRACKING_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export ACIKKAPI__AUTH__KEYS="load:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export ACIKKAPI__PRIVACY__KEYS="load:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export ACIKKAPI__PRIVACY__HASH_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # A durable queue bound to the events, as routing and notification will
    # have: every confirm then means "persisted in a queue", not "dropped".
    "$bin" declare-queue load-sink --kinds ApplicationReceived
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

# Intake alone: the figures are those of recording applications; routing
# has its own benchmark (acikkapi-routing-bench), and the whole pipeline
# under load is the capacity plan of issue #8.
"$bin" serve --services intake >"$work/serve.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$mode" = production ]; then
    psql -h 127.0.0.1 -U postgres -d test -qc "DROP SCHEMA IF EXISTS load_$stamp CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:9565/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$load" --addr http://127.0.0.1:50151 --metrics-url http://127.0.0.1:9565/metrics \
  --total 10000 --concurrency 32 --label "$mode, closed loop, 32 clients" --seed 0
"$load" --addr http://127.0.0.1:50151 --metrics-url http://127.0.0.1:9565/metrics \
  --total 10000 --concurrency 32 --rate 1000 --label "$mode, 1,000/s offered, 32 clients" --seed 100000
grep -E "ERROR|WARN" "$work/serve.log" | head -5 || true
