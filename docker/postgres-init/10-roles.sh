#!/bin/sh
# First start of the compose PostgreSQL only (docker-entrypoint-initdb.d): creates the
# login that Grafana's alerting data source uses (provisioning/datasources/
# agog-postgres-readonly.yaml). It is a member of agog_readonly, which the migrations
# create and grant SELECT to; creating the role here first is fine, the migration keeps
# an existing one. Read-only by default transaction mode as well, with a statement timeout.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader="$AGOG_ALERTING_DB_USER" -v password="$AGOG_ALERTING_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE agog_readonly NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agog_readonly') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE agog_readonly', :'reader', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', :'reader') \gexec
SELECT format('ALTER ROLE %I SET statement_timeout = %L', :'reader', '30s') \gexec
SQL
