# Sourced, not run: the platform as the chart deploys it, each service its
# own `acikkapi serve --services X` process (REPLICAS of each), on the
# PostgreSQL schema, RabbitMQ prefix and Redis prefix of the environment
# (ACIKKAPI__STORE__URL, …). Used by `run.sh pipeline-processes` and
# `chaos.sh`.
#
# Needs: $bin (the acikkapi binary), $work (a directory for logs and pids).
# Process i (0-based, in the order of FLEET_SERVICES × replicas) serves gRPC
# on 50200+i and metrics on 9600+i; its log is $work/<service>-<replica>.log
# (appended to across restarts).

FLEET_SERVICES=(intake routing notification escalation reporting)
REPLICAS="${REPLICAS:-1}"
# One budget of PostgreSQL connections for the whole fleet, as the chart
# sizes its pools (helm/acikkapi values `postgres.connectionBudget`): each
# process gets an equal share, so any REPLICAS fits PostgreSQL's default
# max_connections of 100 (10 left for psql, backups and the migrate Job).
PG_BUDGET="${PG_BUDGET:-90}"

# What the harnesses judging every application set (chaos, upgrade-check,
# dr-drill): data and the file SMS gateway in DIR, warnings only in the
# logs, the per-client submission limit and the SMS account rate out of
# the way.
fleet_harness_env() {
  export ACIKKAPI__DATA_DIR="$1"
  export ACIKKAPI__TELEMETRY__LOG_FILTER="${ACIKKAPI__TELEMETRY__LOG_FILTER:-warn}"
  export ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE=100000000
  export ACIKKAPI__NOTIFICATION__PROVIDER=file
  export ACIKKAPI__NOTIFICATION__RATE_PER_SECOND=100000
}

fleet_names() {
  local s r
  for s in "${FLEET_SERVICES[@]}"; do
    for r in $(seq 1 "$REPLICAS"); do echo "$s-$r"; done
  done
}

fleet_index() { # name -> its index
  local i=0 n
  for n in $(fleet_names); do
    [ "$n" = "$1" ] && { echo "$i"; return; }
    i=$((i + 1))
  done
  echo "no process $1" >&2
  return 1
}

fleet_size() { fleet_names | wc -l; }

fleet_metrics_url() { echo "http://127.0.0.1:$((9600 + $(fleet_index "$1")))/metrics"; }
fleet_grpc_url() { echo "http://127.0.0.1:$((50200 + $(fleet_index "$1")))"; }

# Starts process NAME (service-replica). Its stdin is /dev/null and its
# output goes to its log: it keeps none of the caller's descriptors open
# (a test harness reading our output would otherwise wait for it).
fleet_start() {
  local name=$1 i service share
  i=$(fleet_index "$name")
  service=${name%-*}
  share=$((PG_BUDGET / $(fleet_size)))
  [ "$share" -ge 2 ] || share=2
  ACIKKAPI__SERVER__GRPC_ADDR="127.0.0.1:$((50200 + i))" \
  ACIKKAPI__SERVER__HTTP_ADDR="127.0.0.1:$((9600 + i))" \
  ACIKKAPI__STORE__MAX_CONNECTIONS="$share" \
    setsid "$bin" serve --services "$service" </dev/null >>"$work/$name.log" 2>&1 &
  echo $! >"$work/$name.pid"
  # Not this shell's job: killing it is no news (fleet_down polls instead).
  disown $!
}

fleet_pid() { cat "$work/$1.pid" 2>/dev/null; }

# Waits until NAME answers /readyz (at most 60 s).
fleet_wait_ready() {
  local url
  url="http://127.0.0.1:$((9600 + $(fleet_index "$1")))/readyz"
  for _ in $(seq 1 600); do
    curl -sf "$url" >/dev/null 2>&1 && return 0
    if ! kill -0 "$(fleet_pid "$1")" 2>/dev/null; then
      echo "$1 exited; its log:" >&2
      tail -20 "$work/$1.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$1 not ready after 60 s" >&2
  return 1
}

# Every process, intake's first (its migrations are what the others read).
fleet_up() {
  local n
  for n in $(fleet_names); do
    [[ "$n" == intake-* ]] || continue
    fleet_start "$n"
    fleet_wait_ready "$n"
  done
  for n in $(fleet_names); do
    [[ "$n" == intake-* ]] || fleet_start "$n"
  done
  for n in $(fleet_names); do fleet_wait_ready "$n"; done
}

# SIGTERM to every process (drained as Kubernetes would), then waits.
fleet_down() {
  local n pid
  for n in $(fleet_names); do
    pid=$(fleet_pid "$n") && kill "$pid" 2>/dev/null || true
  done
  for n in $(fleet_names); do
    pid=$(fleet_pid "$n") || continue
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# Sum over the fleet of the Prometheus samples whose line starts with
# METRIC and contains every further argument.
fleet_sum() {
  local metric=$1 n
  shift
  for n in $(fleet_names); do
    curl -sf "$(fleet_metrics_url "$n")" || true
  done | awk -v m="$metric" -v want="$*" '
    index($0, m) == 1 {
      k = split(want, w, " "); ok = 1
      for (j = 1; j <= k; j++) if (index($0, w[j]) == 0) ok = 0
      if (ok) s += $NF
    }
    END { printf "%d\n", s }'
}

# Peak resident memory (VmHWM) of NAME, in MiB.
fleet_peak_rss() {
  awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$(fleet_pid "$1")/status" 2>/dev/null || echo "?"
}
