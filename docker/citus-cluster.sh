#!/bin/sh
# One-shot step of docker-compose.citus.yml, as the superuser (PGUSER, PGPASSWORD,
# PGDATABASE): creates the citus extension in the database on every node, then registers
# the coordinator (first argument) and the workers (the others) with it. Runs again
# without harm: nodes already registered are kept.
#   citus-cluster.sh <coordinator> <worker> [<worker> ...]
set -eu
coordinator="$1"
shift
for node in "$coordinator" "$@"; do
  psql -v ON_ERROR_STOP=1 -h "$node" -c 'CREATE EXTENSION IF NOT EXISTS citus'
done
psql -v ON_ERROR_STOP=1 -h "$coordinator" -v coordinator="$coordinator" <<'SQL'
SELECT citus_set_coordinator_host(:'coordinator', 5432);
SQL
for worker in "$@"; do
  psql -v ON_ERROR_STOP=1 -h "$coordinator" -v worker="$worker" <<'SQL'
SELECT citus_add_node(:'worker', 5432) WHERE NOT EXISTS (SELECT FROM pg_dist_node WHERE nodename = :'worker');
SQL
done
psql -v ON_ERROR_STOP=1 -h "$coordinator" -c 'SELECT nodename, nodeport, noderole FROM pg_dist_node ORDER BY nodeid'
