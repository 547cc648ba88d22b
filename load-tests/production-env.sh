# Sourced, not run: the environment of an `acikkapi serve` on this
# machine's PostgreSQL, RabbitMQ and Redis, isolated by $stamp (its own
# schema load_$stamp, bus and cache prefix load$stamp), with fresh keys.
export ACIKKAPI__STORE__URL=postgres://postgres@127.0.0.1:5432/test
export ACIKKAPI__STORE__SCHEMA="load_$stamp"
export ACIKKAPI__BUS__URL='amqp://guest:guest@127.0.0.1:5672/%2f'
export ACIKKAPI__BUS__PREFIX="load$stamp"
export ACIKKAPI__BUS__QUEUE_EXPIRES_MS=600000
export ACIKKAPI__CACHE__URL=redis://127.0.0.1:6379/
export ACIKKAPI__CACHE__PREFIX="load$stamp"
# Production's portal sends its cookie over HTTPS only (the load client
# keeps it all the same).
export ACIKKAPI__PORTAL__COOKIE_SECURE=true
key() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ACIKKAPI__INTAKE__TRACKING_KEY=$(key)
ACIKKAPI__AUTH__KEYS="load:$(key)"
ACIKKAPI__PRIVACY__KEYS="load:$(key)"
ACIKKAPI__PRIVACY__HASH_KEY=$(key)
export ACIKKAPI__INTAKE__TRACKING_KEY ACIKKAPI__AUTH__KEYS ACIKKAPI__PRIVACY__KEYS ACIKKAPI__PRIVACY__HASH_KEY
# psql on this run's schema.
sql() { psql -h 127.0.0.1 -U postgres -d test -tAqc "SET search_path TO load_$stamp; $1"; }
drop_schema() { psql -h 127.0.0.1 -U postgres -d test -qc "DROP SCHEMA IF EXISTS load_$stamp CASCADE" >/dev/null 2>&1 || true; }
