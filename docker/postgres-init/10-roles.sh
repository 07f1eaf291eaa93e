#!/bin/sh
# First start of the compose PostgreSQL only (docker-entrypoint-initdb.d), as the
# superuser, before any migration. Creates:
#   - the group roles of the migrations (agog_app, agog_readonly, agog_alerting), so that
#     the logins below can be members; the migrations keep existing roles;
#   - AGOG_DB_USER, the login of the migrations, the tokens step and the service: not a
#     superuser, owner of the database (so it owns what the migrations create), allowed to
#     create roles only because the migrations create their group roles when missing, and
#     a member of agog_readonly, which the query API switches to for each request;
#   - AGOG_ALERTING_DB_USER, the login of Grafana's alerting data source: a member of
#     agog_alerting (only the columns the alert rules read), read-only by
#     default, with a statement timeout (a session can lift both: SECURITY.md).
# Outside compose, run the same statements with psql -v (see provisioning/README.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v database="$POSTGRES_DB" \
  -v owner="$AGOG_DB_USER" -v owner_password="$AGOG_DB_PASSWORD" \
  -v reader="$AGOG_ALERTING_DB_USER" -v reader_password="$AGOG_ALERTING_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', name)
  FROM unnest(ARRAY['agog_app', 'agog_readonly', 'agog_alerting']) AS name
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) \gexec

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB CREATEROLE', :'owner', :'owner_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'owner') \gexec
-- The query API reads as agog_readonly (SET LOCAL ROLE, src/db/tenantSession.ts).
SELECT format('GRANT agog_readonly TO %I', :'owner') \gexec

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE agog_alerting',
              :'reader', :'reader_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', :'reader') \gexec
SELECT format('ALTER ROLE %I SET statement_timeout = %L', :'reader', '30s') \gexec
SQL
