#!/usr/bin/env bash
# Makes sure PostgreSQL, RabbitMQ and Redis answer on 127.0.0.1 for the
# production-backend tests: starts what is installed but down, installs from
# the distribution's packages what is missing (when run as root), and
# otherwise says exactly what is missing. Idempotent. Exits non-zero when a
# service cannot be reached: tests never skip a backend.
set -uo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
missing=()

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  if as_root && command -v apt-get >/dev/null; then
    log "installing $* from the distribution's packages"
    if [ ! -f /tmp/.acikkapi-apt-updated ]; then apt-get update -qq && touch /tmp/.acikkapi-apt-updated; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

# --- PostgreSQL --------------------------------------------------------------
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client || true
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if pg_up; then
  # The tests connect as postgres to the database "test" on 127.0.0.1.
  if ! psql -h 127.0.0.1 -U postgres -d test -qtAc 'SELECT 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE test' >/dev/null 2>&1 \
      || su postgres -c "psql -qc 'CREATE DATABASE test'" >/dev/null 2>&1 || true
  fi
  psql -h 127.0.0.1 -U postgres -d test -qtAc 'SELECT 1' >/dev/null 2>&1 \
    || missing+=("PostgreSQL answers but database 'test' is not reachable as user postgres without a password (trust auth on 127.0.0.1)")
else
  missing+=("PostgreSQL on 127.0.0.1:5432 (Debian: apt-get install postgresql)")
fi

# --- Redis -------------------------------------------------------------------
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server || true
  if command -v redis-server >/dev/null; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  fi
fi
redis_up || missing+=("Redis on 127.0.0.1:6379 (Debian: apt-get install redis-server)")

# --- RabbitMQ ----------------------------------------------------------------
rabbit_up() { rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; }
if ! rabbit_up; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server || true
  if command -v rabbitmq-server >/dev/null; then
    log "starting RabbitMQ (takes a few seconds)"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    # await_startup right after -detached fails; poll instead.
    for _ in $(seq 1 90); do rabbit_up && break; sleep 1; done
  fi
fi
rabbit_up || missing+=("RabbitMQ on 127.0.0.1:5672 with guest/guest (Debian: apt-get install rabbitmq-server)")

if [ ${#missing[@]} -gt 0 ]; then
  log "cannot run the production-backend tests; missing:"
  for m in "${missing[@]}"; do log "  - $m"; done
  exit 1
fi

# Schemas left by earlier test runs that were interrupted.
psql -h 127.0.0.1 -U postgres -d test -qtAc \
  "SELECT 'DROP SCHEMA IF EXISTS ' || nspname || ' CASCADE;' FROM pg_namespace WHERE nspname LIKE 't\_%'" 2>/dev/null \
  | psql -h 127.0.0.1 -U postgres -d test -q >/dev/null 2>&1 || true
log "PostgreSQL, RabbitMQ and Redis answer on 127.0.0.1"
