#!/bin/sh
# Entrypoint of the compose PostgreSQL: refuses the placeholder passwords of .env.example,
# then starts PostgreSQL the way its image does. At the first start of an empty volume the
# image runs docker/postgres-init/ (the roles and logins).
set -eu
. "$(dirname "$0")/placeholders.sh"
refuse_placeholders POSTGRES_PASSWORD AGOG_DB_PASSWORD AGOG_ALERTING_DB_PASSWORD
exec docker-entrypoint.sh "$@"
