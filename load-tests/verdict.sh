# Sourced, not run: the harnesses' verdict (make chaos, upgrade-check,
# dr-drill, deploy-smoke), application by application, from
# load-tests/chaos-check.sql: per effect, how many numbers handed to a
# client lack it (lost) or have it more than once (doubled).
#
#   verdict CONNINFO SCHEMA NUMBERS GATEWAY [ALL]
#     CONNINFO: psql's, e.g. "host=127.0.0.1 port=5432 dbname=test user=postgres";
#     NUMBERS: the application numbers to judge, one a line; GATEWAY: the
#     message ids the SMS gateway received, one a line; ALL (dr-drill):
#     every number handed out, of which those the store holds are judged
#     too, and an application outside ALL (not NUMBERS) is one no client holds.
#   arrived: true once the verdict on stdin lacks nothing.
#   judged: prints the verdict on stdin as a table; false on any lost or doubled.
#   file_gateway_ids SMS_JSONL: the ids the file provider wrote, one a line.
#   wait_until CHECK SECONDS: runs the command CHECK every half second until
#     it succeeds; false if SECONDS passed first.

verdict() {
  local conn=$1 schema=$2 numbers=$3 gateway=$4 all=${5:-$3}
  psql "$conn" -qtA -F ' | ' -v ON_ERROR_STOP=1 <<SQL
SET search_path TO $schema;
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS chaos_all (number TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS chaos_numbers (number TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS chaos_gateway (id TEXT NOT NULL);
TRUNCATE chaos_all, chaos_numbers, chaos_gateway;
\copy chaos_all FROM '$all'
\copy chaos_numbers FROM '$numbers'
\copy chaos_gateway FROM '$gateway'
INSERT INTO chaos_numbers SELECT a.number FROM applications a
  JOIN chaos_all c USING (number) ON CONFLICT DO NOTHING;
$(sed 's/FROM applications a WHERE NOT EXISTS (SELECT 1 FROM chaos_numbers n/FROM applications a WHERE NOT EXISTS (SELECT 1 FROM chaos_all n/' load-tests/chaos-check.sql)
SQL
}

arrived() {
  awk -F ' \\| ' 'NF == 3 && $2 != 0 {missing = 1} END {exit missing || NR == 0}'
}

judged() {
  printf '%-28s %6s %8s\n' effect lost doubled
  awk -F ' \\| ' 'NF == 3 {printf "%-28s %6d %8d\n", $1, $2, $3; bad += $2 + $3} END {exit bad > 0}'
}

file_gateway_ids() {
  if [ -f "$1" ]; then sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$1"; fi
}

wait_until() {
  local check=$1 limit=$2 began
  began=$(date +%s)
  until "$check"; do
    [ $(($(date +%s) - began)) -lt "$limit" ] || return 1
    sleep 0.5
  done
}
