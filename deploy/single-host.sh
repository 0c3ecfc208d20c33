#!/usr/bin/env bash
# The single-host recipe of docs/orchestration.md: a Redis broker on loopback and N embodiq
# workers for one store, whose Dagster instance (and robot registry) is the PostgreSQL database
# of EMBODIQ_POSTGRES_URL. Runs in the foreground; stopping it stops the broker and the workers.
#
#   export EMBODIQ_STORE=/srv/embodiq/store
#   export EMBODIQ_POSTGRES_URL=postgresql://embodiq:SECRET@127.0.0.1:5432/embodiq
#   export EMBODIQ_CELERY_BROKER=redis://127.0.0.1:6379/0
#   deploy/single-host.sh 2
set -euo pipefail
workers=${1:-2}
: "${EMBODIQ_STORE:?set EMBODIQ_STORE to the store folder}"
: "${EMBODIQ_POSTGRES_URL:?set EMBODIQ_POSTGRES_URL to the instance database}"
: "${EMBODIQ_CELERY_BROKER:?set EMBODIQ_CELERY_BROKER, e.g. redis://127.0.0.1:6379/0}"
port=${EMBODIQ_CELERY_BROKER##*:}
port=${port%%/*}

trap 'trap - EXIT TERM INT; kill 0' EXIT TERM INT
# the broker, in memory only: it holds nothing but the steps of the runs going on
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no &
broker=$!
until redis-cli -p "$port" ping >/dev/null 2>&1; do
  kill -0 "$broker" 2>/dev/null || { echo "redis-server did not start on port $port" >&2; exit 1; }
  sleep 0.2
done
# the workers: one step (one core) each
for i in $(seq 1 "$workers"); do
  embodiq worker --name "worker$i" &
done
wait
