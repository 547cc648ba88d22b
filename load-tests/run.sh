#!/usr/bin/env bash
# Runs the load generator against a release build of `acikkapi serve`:
#   load-tests/run.sh embedded     SQLite + in-process bus + in-memory cache
#   load-tests/run.sh production   PostgreSQL + RabbitMQ + Redis on loopback
#   load-tests/run.sh pipeline     the same, all five services in one process
#   load-tests/run.sh pipeline-processes
#                                  the same, each service its own process, as
#                                  the chart deploys it (REPLICAS=2: two of
#                                  each), the pools sized from one budget of
#                                  PostgreSQL connections (PG_BUDGET, 90)
#   load-tests/run.sh pipeline-embedded
#                                  all five services on the embedded default
#   load-tests/run.sh portal-embedded | portal-production
#                                  citizens applying through the portal
#                                  (HTTP form posts) to intake on that backend
# Two runs of 10,000 submissions each: closed loop at 32 concurrent clients
# (throughput), then 1,000/s offered by 32 clients (latency at that rate).
# `pipeline` (and `pipeline-embedded`) makes one closed-loop run and then
# waits until every application is routed, followed by intake, on an SLA
# clock, receipted by SMS (to the file gateway) and in the reports: the
# whole platform's rate.
set -euo pipefail
mode="${1:?usage: load-tests/run.sh embedded|production|pipeline|pipeline-processes|pipeline-embedded|portal-embedded|portal-production}"
cd "$(dirname "$0")/.."
bin=target/release/acikkapi
load=target/release/acikkapi-load
portal_load=target/release/acikkapi-portal-load
[ -x "$bin" ] && [ -x "$load" ] && [ -x "$portal_load" ] || { echo "build first: make release" >&2; exit 1; }

work=$(mktemp -d)
stamp=$(date +%s)
export ACIKKAPI__DATA_DIR="$work"
export ACIKKAPI__SERVER__GRPC_ADDR=127.0.0.1:50151
export ACIKKAPI__SERVER__HTTP_ADDR=127.0.0.1:9565
# LOAD_LOG=file keeps the server's log (with, say,
# ACIKKAPI__TELEMETRY__LOG_FILTER=warn,sqlx::query=debug to count statements).
export ACIKKAPI__TELEMETRY__LOG_FILTER="${ACIKKAPI__TELEMETRY__LOG_FILTER:-warn}"
# One channel-service token sends every submission here, as the web portal
# would at a national burst: its per-client limit is raised out of the way,
# but still counted on every call (in Redis on production), so the figures
# include what the limiter costs. Identity numbers are all distinct.
export ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE="${ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE:-100000000}"
case "$mode" in
  embedded|portal-embedded|pipeline-embedded) ;;
  production|pipeline|pipeline-processes|portal-production)
    . load-tests/production-env.sh
    # A durable queue bound to the events, as routing and notification will
    # have: every confirm then means "persisted in a queue", not "dropped".
    # (The pipeline has its real consumers' queues.)
    [[ "$mode" == pipeline* ]] || "$bin" declare-queue load-sink --kinds ApplicationReceived
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

# Intake alone: the figures are those of recording applications; routing
# has its own benchmark (acikkapi-routing-bench), and the whole pipeline
# under load is the capacity plan of issue #8.
services=intake
if [[ "$mode" == pipeline* ]]; then
  services=intake,routing,notification,escalation,reporting
  # SMS go to a file; the platform's rate is measured, not the gateway
  # contract's (100/s by default, see the capacity plan in docs/performance.md).
  # 64 senders: the file gateway answers at once, so what bounds the
  # senders is their claim and record cycle, not a gateway's latency.
  export ACIKKAPI__NOTIFICATION__PROVIDER=file
  export ACIKKAPI__NOTIFICATION__RATE_PER_SECOND=100000
  export ACIKKAPI__NOTIFICATION__SENDERS="${ACIKKAPI__NOTIFICATION__SENDERS:-64}"
fi
if [[ "$mode" == portal-* ]]; then
  services=intake,portal
  export ACIKKAPI__PORTAL__ADDR=127.0.0.1:8181
  # Each simulated citizen comes from its own address, as the ingress says.
  export ACIKKAPI__SERVER__CLIENT_IP_HEADER=x-forwarded-for
fi
# The server: one process, or (pipeline-processes) one per service.
stop_server() {
  if [ "$mode" = pipeline-processes ]; then
    fleet_down
  else
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop_server
  if [[ "$mode" != *embedded ]]; then
    drop_schema
  fi
  [ -z "${LOAD_LOG:-}" ] || cat "$work"/*.log >"$LOAD_LOG"
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$mode" = pipeline-processes ]; then
  . load-tests/fleet.sh
  fleet_up
else
  "$bin" serve --services "$services" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -sf http://127.0.0.1:9565/readyz >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [[ "$mode" == pipeline* ]]; then
  total=10000
  if [ "$mode" != pipeline-embedded ]; then
    commits() { psql -h 127.0.0.1 -U postgres -d test -tAqc "SELECT xact_commit FROM pg_stat_database WHERE datname = 'test'"; }
    # Rows inserted, updated and deleted in this run's schema: what the
    # database must do, counted (not timed), so it repeats run to run.
    row_ops() { psql -h 127.0.0.1 -U postgres -d test -tAqF ' ' -c "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE schemaname = 'load_$stamp'"; }
    outbox_rows() { psql -h 127.0.0.1 -U postgres -d test -tAqc "SELECT COALESCE(SUM(n_tup_ins), 0) FROM pg_stat_user_tables WHERE schemaname = 'load_$stamp' AND relname = 'outbox'"; }
    # The seeded catalogue and migrations are not the run's: wait for the
    # migrating connections' counts to reach the statistics (PostgreSQL
    # sends them within a second of a connection going idle).
    sleep 1.5
    row_ops >"$work/rows_before"
    outbox_before=$(outbox_rows)
    commits_before=$(commits)
  else
    sql() { sqlite3 -cmd '.timeout 5000' "$work/acikkapi.db" "$1"; }
  fi
  start=$(date +%s.%N)
  if [ "$mode" = pipeline-processes ]; then
    # As many load clients as intake replicas, each to its own (as the
    # Service spreads connections), the 32 clients and 10,000 shared.
    loaders=()
    for r in $(seq 1 "$REPLICAS"); do
      "$load" --addr "$(fleet_grpc_url "intake-$r")" \
        --total $((total / REPLICAS)) --concurrency $((32 / REPLICAS)) \
        --label "$mode, closed loop, 32 clients, intake-$r of $REPLICAS" --seed $(((r - 1) * total / REPLICAS)) &
      loaders+=($!)
    done
    wait "${loaders[@]}"
  else
    "$load" --addr http://127.0.0.1:50151 --metrics-url http://127.0.0.1:9565/metrics \
      --total "$total" --concurrency 32 --label "$mode, closed loop, 32 clients" --seed 0
  fi
  done_sql="SELECT (SELECT COUNT(*) FROM routing_assignments) || ' ' ||
    (SELECT COUNT(*) FROM applications WHERE unit_id IS NOT NULL) || ' ' ||
    (SELECT COUNT(*) FROM sla_clocks WHERE unit_id <> '') || ' ' ||
    (SELECT COUNT(*) FROM sms_messages WHERE template = 'receipt' AND status IN ('sent', 'delivered')) || ' ' ||
    (SELECT COUNT(*) FROM rpt_applications WHERE unit_id <> '')"
  while :; do
    counts=$(sql "$done_sql")
    now=$(date +%s.%N)
    if [ "$counts" = "$total $total $total $total $total" ]; then break; fi
    if awk -v a="$now" -v b="$start" 'BEGIN{exit !(a-b > 600)}'; then
      echo "not drained after 10 minutes: routed, followed, clocks, receipts, reported = $counts" >&2
      exit 1
    fi
    ticks=$((${ticks:-0} + 1))
    [ $((ticks % 5)) -eq 0 ] && printf '%6.1f s  routed, followed, clocks, receipts, reported: %s\n' \
      "$(awk -v a="$now" -v b="$start" 'BEGIN{print a-b}')" "$counts"
    sleep 0.2
  done
  awk -v n="$total" -v a="$now" -v b="$start" \
    'BEGIN{printf "'"$mode"': %d applications through all five services in %.1f s: %.0f applications/s\n", n, a-b, n/(a-b)}'
  if [ "$mode" = pipeline-processes ]; then
    # Let the last events (surveys, SLA bookkeeping) settle before counting.
    sleep 2
    echo "processes: $(fleet_size) (${REPLICAS} of each service), $((PG_BUDGET / $(fleet_size))) PostgreSQL connections each (budget $PG_BUDGET)"
    published=$(fleet_sum acikkapi_outbox_published_total)
    events=$(( $(outbox_rows) - outbox_before ))
    awk -v p="$published" -v e="$events" \
      'BEGIN{printf "publishes: %d for %d events: %.3f an event\n", p, e, p/e}'
    # Deliveries a queue took for the events it applied. Every delivery is
    # settled once: applied, duplicate, dead, or requeued (given back to the
    # broker, to come again); an event that waits in its loop is not
    # delivered again. An inbox consumer applies each event once; reporting
    # applies every delivery and keeps each event once.
    for q in routing intake-follow notification escalation reporting; do
      delivered=0
      for r in applied duplicate dead requeued; do
        delivered=$((delivered + $(fleet_sum acikkapi_events_consumed_total "consumer=\"$q\"" "result=\"$r\"")))
      done
      if [ "$q" = reporting ]; then
        distinct=$(sql "SELECT COUNT(*) FROM rpt_events")
      else
        distinct=$(fleet_sum acikkapi_events_consumed_total "consumer=\"$q\"" 'result="applied"')
      fi
      awk -v q="$q" -v d="$delivered" -v e="$distinct" \
        'BEGIN{printf "  deliveries %-14s %7d for %7d events: %.3f an event\n", q, d, e, (e ? d/e : 0)}'
    done
    echo "deadlocks in the logs: $(cat "$work"/*.log | grep -c 'deadlock detected' || true)"
    printf 'peak RSS (MiB):'
    for n in $(fleet_names); do printf ' %s %s' "$n" "$(fleet_peak_rss "$n")"; done
    echo
  fi
  if [ "$mode" != pipeline-embedded ]; then
    sleep 1
    awk -v n="$total" -v a="$(commits)" -v b="$commits_before" \
      'BEGIN{printf "postgresql: %.2f committed transactions an application (every service, the polling included)\n", (a-b)/n}'
    # Stopped first: a backend sends its last counts when its connection closes.
    stop_server
    sleep 0.5
    row_ops | awk -v n="$total" 'NR == FNR {before[$1] = $2; next}
      {d = $2 - before[$1]; if (d > 0) {by[$1] = d; all += d}}
      END {printf "postgresql: %.1f rows inserted, updated or deleted an application\n", all/n
           for (t in by) printf "  %-22s %5.2f\n", t, by[t]/n | "sort -k2,2nr -k1,1"}' "$work/rows_before" -
  fi
  cat "$work"/*.log | grep -E "ERROR|WARN" | head -5 || true
  exit 0
fi
if [[ "$mode" == portal-* ]]; then
  # Closed loop: 32 citizens at once, each journey 18 requests (every
  # question page, check answers, submission, confirmation, a look-up).
  "$portal_load" --addr 127.0.0.1:8181 --total 6000 --concurrency 32 \
    --label "$mode, closed loop, 32 citizens" --seed 0
  # Open loop: 200 page requests/s offered (about 11 applications/s),
  # page time from each request's due time.
  "$portal_load" --addr 127.0.0.1:8181 --total 700 --concurrency 64 --rate 200 \
    --label "$mode, 200 requests/s offered" --seed 100000
  grep -E "ERROR|WARN" "$work/serve.log" | head -5 || true
  exit 0
fi
"$load" --addr http://127.0.0.1:50151 --metrics-url http://127.0.0.1:9565/metrics \
  --total 10000 --concurrency 32 --label "$mode, closed loop, 32 clients" --seed 0
"$load" --addr http://127.0.0.1:50151 --metrics-url http://127.0.0.1:9565/metrics \
  --total 10000 --concurrency 32 --rate 1000 --label "$mode, 1,000/s offered, 32 clients" --seed 100000
grep -E "ERROR|WARN" "$work/serve.log" | head -5 || true
