#!/usr/bin/env bash
# `make dr-drill`: a PostgreSQL disaster-recovery drill, as an operator would
# run it, judged application by application.
#
#  1. A primary cluster of its own (Debian's pg_createcluster, port 5442)
#     archives its WAL to a local folder (archive_command); the platform
#     serves from it as deployed, each service its own process, on RabbitMQ
#     and Redis.
#  2. Burst A (BURST applications, clients retrying with their key): one
#     second in, a base backup (pg_basebackup) is taken while it runs.
#  3. Burst B: one second in, the restore point is named
#     (pg_create_restore_point) while it runs.
#  4. The disaster: every process killed (-9) and the primary stopped
#     immediately; it is not used again.
#  5. The restore: a second cluster (port 5443) from the base backup,
#     replaying the archived WAL up to the restore point, promoted.
#  6. The platform on the restored cluster, on a fresh broker prefix (the
#     old broker's queues are not trusted): `acikkapi migrate`, `acikkapi
#     outbox replay` (the events published before the restore point but
#     applied after it), then every service; wait until it converges.
#  7. The verdict (load-tests/chaos-check.sql): every application of burst A
#     (all acknowledged before the restore point) and every application of
#     burst B the restored store holds has each effect exactly once, receipt
#     SMS at the gateway included; no application no client was told of.
#     Burst B's applications acknowledged after the restore point are the
#     ones a restore to that point gives up (the recovery point): counted.
#
# BURST (default 3000). Needs the release build (make release). It creates
# and drops the clusters drill_primary and drill_restore; the machine's
# main cluster (5432) is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/acikkapi
load=target/release/acikkapi-load
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: make release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "dr-drill: run as root (pg_createcluster, the postgres user's files)" >&2; exit 1; }
BURST="${BURST:-3000}"
PRIMARY_PORT=5442
RESTORE_PORT=5443

work=$(mktemp -d)
chmod 755 "$work"
stamp=$(date +%s)
. load-tests/production-env.sh
. load-tests/fleet.sh
. load-tests/verdict.sh
export ACIKKAPI__STORE__URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres"
fleet_harness_env "$work"
pgv=$(pg_lsclusters -h | awk '$2 == "main" {print $1; exit}')
archive="$work/wal-archive"
base="$work/base"
mkdir -p "$archive" && chown postgres:postgres "$archive"

psql_at() { # port sql
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAqc "$2"
}
drop_clusters() {
  for c in drill_primary drill_restore; do
    pg_dropcluster --stop "$pgv" "$c" >/dev/null 2>&1 || true
  done
}
cleanup() {
  fleet_down >/dev/null 2>&1 || true
  drop_clusters
  [ -z "${DRILL_LOG:-}" ] || cat "$work"/*.log >"$DRILL_LOG" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
drop_clusters
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }
wait_pg() { # port
  for _ in $(seq 1 120); do pg_isready -h 127.0.0.1 -p "$1" -q && return 0; sleep 0.5; done
  echo "PostgreSQL on $1 did not start" >&2
  return 1
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); PostgreSQL $pgv"
# --- 1. The primary, archiving its WAL.
pg_createcluster "$pgv" drill_primary -p "$PRIMARY_PORT" -- --auth=trust >/dev/null
cat >"/etc/postgresql/$pgv/drill_primary/conf.d/drill.conf" <<EOF
listen_addresses = '127.0.0.1'
max_connections = 120
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f'
archive_timeout = 60
EOF
pg_ctlcluster --skip-systemctl-redirect "$pgv" drill_primary start </dev/null >/dev/null
wait_pg "$PRIMARY_PORT"
"$bin" migrate >"$work/migrate.log" 2>&1
fleet_up

burst() { # label seed numbers-file
  "$load" --addr "$(fleet_grpc_url intake-1)" --total "$BURST" --concurrency 16 \
    --retry-secs 300 --numbers "$3" --seed "$2" --label "$1" >"$work/$1.out" 2>&1
}

# --- 2. Burst A, the base backup taken while it runs.
burst A 0 "$work/numbers-a" &
loader=$!
sleep 1
began=$(now)
pg_basebackup -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$base" -Fp -Xstream -c fast
backup_s=$(since "$began")
backup_mb=$(du -sm "$base" | cut -f1)
wait "$loader" || { cat "$work/A.out" >&2; exit 1; }

# --- 3. Burst B, the restore point named while it runs.
burst B "$BURST" "$work/numbers-b" &
loader=$!
sleep 1
point_lsn=$(psql_at "$PRIMARY_PORT" "SELECT pg_create_restore_point('drill')")
point_at=$(date -u +%H:%M:%S)
wait "$loader" || { cat "$work/B.out" >&2; exit 1; }
# The segment holding the restore point is archived (as archive_timeout
# would do within a minute), then the disaster.
psql_at "$PRIMARY_PORT" "SELECT pg_switch_wal()" >/dev/null
for _ in $(seq 1 60); do
  [ "$(psql_at "$PRIMARY_PORT" "SELECT last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver")" = t ] && break
  sleep 0.5
done

# --- 4. The disaster.
for n in $(fleet_names); do kill -9 "$(fleet_pid "$n")" 2>/dev/null || true; done
pg_ctlcluster --skip-systemctl-redirect "$pgv" drill_primary stop -m immediate </dev/null >/dev/null 2>&1 || true
segments=$(find "$archive" -type f | wc -l)

# --- 5. The restore into a second cluster, to the restore point.
began=$(now)
pg_createcluster "$pgv" drill_restore -p "$RESTORE_PORT" -- --auth=trust >/dev/null
datadir=$(pg_lsclusters -h | awk '$2 == "drill_restore" {print $6}')
rm -rf "${datadir:?}"/*
cp -a "$base"/. "$datadir"/
chown -R postgres:postgres "$datadir"
cat >"/etc/postgresql/$pgv/drill_restore/conf.d/recovery.conf" <<EOF
listen_addresses = '127.0.0.1'
max_connections = 120
restore_command = 'cp $archive/%f %p'
recovery_target_name = 'drill'
recovery_target_action = 'promote'
archive_mode = off
EOF
touch "$datadir/recovery.signal" && chown postgres:postgres "$datadir/recovery.signal"
pg_ctlcluster --skip-systemctl-redirect "$pgv" drill_restore start </dev/null >/dev/null
wait_pg "$RESTORE_PORT"
for _ in $(seq 1 240); do
  [ "$(psql_at "$RESTORE_PORT" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
  sleep 0.5
done
[ "$(psql_at "$RESTORE_PORT" "SELECT pg_is_in_recovery()")" = f ] || { echo "dr-drill: the restore did not finish" >&2; exit 1; }
restore_s=$(since "$began")

# --- 6. The platform on the restored cluster, converging.
export ACIKKAPI__STORE__URL="postgres://postgres@127.0.0.1:$RESTORE_PORT/postgres"
export ACIKKAPI__BUS__PREFIX="drill$stamp"
export ACIKKAPI__CACHE__PREFIX="drill$stamp"
began=$(now)
"$bin" migrate >>"$work/migrate.log" 2>&1
replayed=$("$bin" outbox replay | awk '{print $1}')
fleet_up
sqlr() { psql -h 127.0.0.1 -p "$RESTORE_PORT" -U postgres -d postgres -qtA -F ' | ' -v ON_ERROR_STOP=1 "$@"; }
cat "$work/numbers-a" "$work/numbers-b" >"$work/numbers-all"
judge() {
  file_gateway_ids "$work/sms.jsonl" >"$work/gateway"
  # Burst B's applications the restored store holds are judged like A's;
  # one it does not hold is one the restore point gave up.
  verdict "host=127.0.0.1 port=$RESTORE_PORT dbname=postgres user=postgres" "load_$stamp" \
    "$work/numbers-a" "$work/gateway" "$work/numbers-all"
}
all_arrived() { judge 2>/dev/null | arrived; }
wait_until all_arrived 300 || echo "dr-drill: not converged after 5 minutes" >&2
converge_s=$(since "$began")
fleet_down
held_b=$(sqlr -c "SELECT COUNT(*) - $(wc -l <"$work/numbers-a") FROM load_$stamp.chaos_numbers")

echo "bursts: A $BURST (base backup 1 s in: ${backup_s} s, ${backup_mb} MB), B $BURST (restore point 'drill' at $point_at UTC, LSN $point_lsn, 1 s in)"
echo "WAL archived: $segments segments; restore (new cluster, base backup, WAL to the restore point, promoted): ${restore_s} s"
echo "restored store holds all of A and $held_b of B's $BURST (the rest acknowledged after the restore point)"
echo "converged on the restored cluster (migrate, $replayed events replayed, every service started, every effect there): ${converge_s} s"
echo
echo "per effect, over every application of A and every one of B the restored store holds:"
judge | judged \
  && echo "dr-drill: 0 lost, 0 doubled" \
  || { echo "dr-drill: applications lost or doubled (above)" >&2; exit 1; }
