#!/bin/sh
# Entrypoint of the compose Grafana: puts the tokens written by the tokens step into the
# environment that provisioning/datasources/*.yaml read, then starts Grafana the way its
# image does. Tokens set in .env (AGOG_READ_TOKEN, AGOG_ADMIN_TOKEN) take precedence.
set -eu
if [ -z "${AGOG_READ_TOKEN:-}" ] && [ -r /run/agog-tokens/read-token ]; then
  AGOG_READ_TOKEN=$(cat /run/agog-tokens/read-token)
  export AGOG_READ_TOKEN
fi
if [ -z "${AGOG_ADMIN_TOKEN:-}" ] && [ -r /run/agog-tokens/admin-token ]; then
  AGOG_ADMIN_TOKEN=$(cat /run/agog-tokens/admin-token)
  export AGOG_ADMIN_TOKEN
fi
exec /run.sh "$@"
