#!/usr/bin/env bash
# `make chaos`: the platform as deployed (every service its own process, on
# PostgreSQL + RabbitMQ + Redis) through rounds of faults mid-burst, then
# judged application by application.
#
# Each round submits BURST applications (16 clients; a refused submission
# is retried with its idempotency key, as the portal, the kiosk and the
# console do) and, while the burst runs, does one fault: `kill -9` of one
# service's process (started again a second later), a RabbitMQ restart, or
# a PostgreSQL crash (`pg_ctlcluster … stop -m immediate`, then start).
# Every application number handed to a client is kept. After the burst the
# round waits until every effect of every number so far has arrived (its
# drain time). At the end, per number: exactly one application row, routing
# assignment, routed hop, timeline line, SLA clock, receipt SMS (in the
# table and at the gateway, the file `sms.jsonl`), reporting row; and no
# application no client was told of (load-tests/chaos-check.sql). Prints
# lost and doubled per effect and exits non-zero on any.
#
# ROUNDS (default 20: every service killed two to four times, RabbitMQ
# restarted three times, PostgreSQL twice), BURST (default 2000: about
# three seconds of submissions here, the fault coming at the first).
#
# It restarts this machine's PostgreSQL and RabbitMQ: run it alone, not
# beside `make test` (whose bounded chaos test never restarts them).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/acikkapi
load=target/release/acikkapi-load
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: make release" >&2; exit 1; }
ROUNDS="${ROUNDS:-20}"
BURST="${BURST:-2000}"

work=$(mktemp -d)
stamp=$(date +%s)
. load-tests/production-env.sh
. load-tests/fleet.sh
. load-tests/verdict.sh
fleet_harness_env "$work"
# A message a killed sender held is taken over after this.
export ACIKKAPI__NOTIFICATION__HTTP_TIMEOUT_MS=2000
export ACIKKAPI__NOTIFICATION__LEASE_MS=5000
cleanup() {
  fleet_down
  drop_schema
  [ -z "${CHAOS_LOG:-}" ] || cat "$work"/*.log >"$CHAOS_LOG"
  rm -rf "$work"
}
trap cleanup EXIT

pg_version=$(pg_lsclusters -h | awk '$2 == "main" {print $1; exit}')
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
rabbit_up() { rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; }
# Daemons are started detached from us: no descriptor of this script (or
# of whatever reads its output) stays open in them.
restart_postgres() {
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main stop -m immediate </dev/null >/dev/null 2>&1 || true
  sleep 1
  setsid pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start </dev/null >/dev/null 2>&1
  for _ in $(seq 1 60); do pg_up && return 0; sleep 0.5; done
  echo "PostgreSQL did not come back" >&2
  return 1
}
restart_rabbitmq() {
  rabbitmqctl -q stop </dev/null >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do rabbit_up || break; sleep 0.5; done
  setsid rabbitmq-server -detached </dev/null >/dev/null 2>&1
  for _ in $(seq 1 120); do rabbit_up && return 0; sleep 0.5; done
  echo "RabbitMQ did not come back" >&2
  return 1
}
kill_service() { # name: kill -9, then started again a second later
  kill -9 "$(fleet_pid "$1")" 2>/dev/null || true
  sleep 1
  fleet_start "$1"
}

# The verdict over the numbers handed out so far and the gateway's lines.
judge() { verdict "host=127.0.0.1 port=5432 dbname=test user=postgres" "load_$stamp" "$work/numbers" "$work/gateway"; }
gateway_ids() { file_gateway_ids "$work/sms.jsonl" >"$work/gateway"; }
all_arrived() { gateway_ids; judge 2>/dev/null | arrived; }

faults=()
for i in $(seq 0 $((ROUNDS - 1))); do
  case $((i % 20)) in
    5 | 12 | 18) faults+=(rabbitmq) ;;
    8 | 15) faults+=(postgres) ;;
    *) faults+=("${FLEET_SERVICES[$((i % 5))]}-1") ;;
  esac
done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "chaos: $ROUNDS rounds of $BURST applications, one fault mid-burst each; every service its own process"
fleet_up
: >"$work/numbers"
# burst_s: how long the burst took (the fault began 1 s into it); fault_s:
# how long the fault took (a restart, until the service answers again);
# drain_s: from the end of both until every effect of every number is there.
printf '%-6s %-16s %8s %8s %8s %8s %8s\n' round fault handed retried burst_s fault_s drain_s
for round in $(seq 1 "$ROUNDS"); do
  fault=${faults[$((round - 1))]}
  "$load" --addr "$(fleet_grpc_url intake-1)" --total "$BURST" --concurrency 16 \
    --retry-secs 300 --numbers "$work/numbers" --seed $((round * BURST)) \
    --label "chaos round $round" >"$work/load-$round.out" 2>&1 &
  loader=$!
  sleep 1
  fault_began=$(date +%s.%N)
  case $fault in
    postgres) restart_postgres ;;
    rabbitmq) restart_rabbitmq ;;
    *) kill_service "$fault" ;;
  esac
  fault_s=$(awk -v a="$(date +%s.%N)" -v b="$fault_began" 'BEGIN{print a-b}')
  if ! wait "$loader"; then
    echo "round $round: the load client failed:" >&2
    cat "$work/load-$round.out" >&2
    exit 1
  fi
  burst_done=$(date +%s.%N)
  burst_s=$(awk '/^submitted/ && match($0, / in [0-9.]+s/) {print substr($0, RSTART + 4, RLENGTH - 5)}' "$work/load-$round.out")
  wait_until all_arrived 300 || {
    echo "round $round: not drained after 5 minutes:" >&2
    judge >&2 || true
  }
  drained=$(date +%s.%N)
  printf '%-6s %-16s %8s %8s %8.1f %8.1f %8.1f\n' "$round" "$fault" "$(wc -l <"$work/numbers")" \
    "$(awk '/retried with their key/ {print $NF}' "$work/load-$round.out")" \
    "$burst_s" "$fault_s" "$(awk -v a="$drained" -v b="$burst_done" 'BEGIN{print a-b}')"
done

# Stopped as Kubernetes stops pods (SIGTERM, drained), then judged.
fleet_down
gateway_ids
echo
echo "per effect, over $(wc -l <"$work/numbers") application numbers handed to clients:"
judge | judged \
  && echo "chaos: 0 lost, 0 doubled" \
  || { echo "chaos: applications lost or doubled (above)" >&2; exit 1; }
echo "deadlocks in the logs: $(cat "$work"/*.log | grep -c 'deadlock detected' || true)"
