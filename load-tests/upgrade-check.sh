#!/usr/bin/env bash
# `make upgrade-check FROM=<commit>`: a rolling upgrade from an earlier
# release to this one, rehearsed as the chart's Deployments do it, then
# judged application by application as the fault harness does.
#
#  1. The earlier commit is built (release; in this target folder, so only
#     the workspace's own crates compile again; kept in .tools/upgrade/).
#  2. It serves on PostgreSQL + RabbitMQ + Redis as deployed: each service
#     its own processes (REPLICAS, default 2), after its own `migrate`.
#  3. A burst runs through both intake replicas (clients retrying a refused
#     submission with its key, as every channel does) while:
#     - the new binary's `acikkapi migrate` runs (the pre-upgrade Job), the
#       earlier release serving on the migrated schema;
#     - every process is replaced, one at a time, by the new binary
#       (SIGTERM, drained, then the new one started and ready), so that for
#       most of the burst the two releases serve side by side, each
#       consuming what the other publishes.
#  4. After the burst, every effect of every number handed to a client:
#     lost / doubled per effect (load-tests/chaos-check.sql).
#
# FROM (required), BURST (default 3000 a client, two clients), RATE (default
# 150 a client a second, so the burst outlasts the roll-out).
set -euo pipefail
cd "$(dirname "$0")/.."
FROM="${FROM:?say which commit to upgrade from: make upgrade-check FROM=<commit>}"
from=$(git rev-parse --short=12 "$FROM^{commit}")
BURST="${BURST:-3000}"
RATE="${RATE:-150}"
export REPLICAS="${REPLICAS:-2}"
[ -x target/release/acikkapi ] && [ -x target/release/acikkapi-load ] || { echo "build first: make release" >&2; exit 1; }

work=$(mktemp -d)
new="$work/acikkapi-new"
load="$work/acikkapi-load"
cp target/release/acikkapi "$new"
cp target/release/acikkapi-load "$load"
old=".tools/upgrade/acikkapi-$from"
if [ ! -x "$old" ]; then
  echo "building $from (release) ..."
  src="$PWD/.tools/upgrade/src-$from"
  rm -rf "$src" && mkdir -p "$src"
  git archive "$from" | tar -x -C "$src"
  began=$(date +%s)
  (cd "$src" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build --release --locked -q \
    -p acikkapi -p acikkapi-load-tests)
  cp target/release/acikkapi "$old"
  rm -rf "$src"
  # target/release/ holds this commit's binaries again.
  cp "$new" target/release/acikkapi
  cp "$load" target/release/acikkapi-load
  echo "built $from in $(($(date +%s) - began)) s"
fi

stamp=$(date +%s)
. load-tests/production-env.sh
. load-tests/fleet.sh
. load-tests/verdict.sh
fleet_harness_env "$work"
cleanup() {
  fleet_down >/dev/null 2>&1 || true
  drop_schema
  [ -z "${UPGRADE_LOG:-}" ] || cat "$work"/*.log >"$UPGRADE_LOG" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "from: $from ($("$old" --version 2>/dev/null || echo "no --version")); to: $("$new" --version)"
bin="$old"
"$bin" migrate >"$work/migrate.log" 2>&1
fleet_up

loaders=()
for r in 1 2; do
  "$load" --addr "$(fleet_grpc_url "intake-$r")" --total "$BURST" --rate "$RATE" --concurrency 8 \
    --retry-secs 300 --numbers "$work/numbers-$r" --seed $((r * 1000000)) \
    --label "upgrade client $r" >"$work/load-$r.out" 2>&1 &
  loaders+=($!)
done
sleep 2
began=$(now)
"$new" migrate >>"$work/migrate.log" 2>&1
migrate_s=$(since "$began")
# The chart's rolling update: one pod at a time (maxUnavailable 0 would
# start the new one first; here the old one goes first, the harder case).
bin="$new"
printf '%-16s %8s %8s\n' replaced stop_s ready_s
for n in $(fleet_names); do
  t=$(now)
  pid=$(fleet_pid "$n")
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  stop_s=$(since "$t")
  t=$(now)
  fleet_start "$n"
  fleet_wait_ready "$n"
  printf '%-16s %8s %8s\n' "$n" "$stop_s" "$(since "$t")"
done
rolled_s=$(since "$began")
for l in "${loaders[@]}"; do
  wait "$l" || { cat "$work"/load-*.out >&2; exit 1; }
done
cat "$work"/numbers-1 "$work"/numbers-2 >"$work/numbers"

judge() {
  file_gateway_ids "$work/sms.jsonl" >"$work/gateway"
  verdict "host=127.0.0.1 port=5432 dbname=test user=postgres" "load_$stamp" "$work/numbers" "$work/gateway"
}
all_arrived() { judge 2>/dev/null | arrived; }
burst_done=$(now)
wait_until all_arrived 300 || echo "upgrade-check: not drained after 5 minutes" >&2
drain_s=$(since "$burst_done")
fleet_down

retried=$(awk '/retried with their key/ {s += $NF} END {print s + 0}' "$work"/load-*.out)
echo
echo "burst: $(wc -l <"$work/numbers") applications (2 clients × $BURST at $RATE/s each), $retried retried with their key"
echo "new migrate while the old release served: ${migrate_s} s; roll-out of $(fleet_size) processes: ${rolled_s} s; drain after the burst: ${drain_s} s"
echo
echo "per effect, over every application number handed to a client:"
judge | judged \
  && echo "upgrade-check: 0 lost, 0 doubled" \
  || { echo "upgrade-check: applications lost or doubled (above)" >&2; exit 1; }
errors=$(cat "$work"/*.log | grep -ciE ' ERROR ' || true)
echo "error lines in the services' logs: $errors"
