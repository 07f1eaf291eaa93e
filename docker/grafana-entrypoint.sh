#!/bin/sh
# Entrypoint of the compose Grafana:
#   1. refuses the placeholder secrets of .env.example;
#   2. puts the tokens written by the tokens step into the environment that the data
#      source files read (tokens set in .env, AGOG_READ_TOKEN and AGOG_ADMIN_TOKEN, win);
#   3. writes the provisioning folder (docker/grafana-provisioning.sh): the dashboards'
#      org always, the operators' org once docker/grafana-operators-org.sh created it (its
#      id is kept in Grafana's data volume, so it goes when the data goes);
#   4. starts Grafana the way its image does.
set -eu
here=$(dirname "$0")
. "$here/placeholders.sh"
. "$here/grafana-provisioning.sh"
refuse_placeholders GF_SECURITY_ADMIN_PASSWORD AGOG_ALERTING_DB_PASSWORD
if [ -z "${AGOG_READ_TOKEN:-}" ] && [ -r /run/agog-tokens/read-token ]; then
  AGOG_READ_TOKEN=$(cat /run/agog-tokens/read-token)
  export AGOG_READ_TOKEN
fi
if [ -z "${AGOG_ADMIN_TOKEN:-}" ] && [ -r /run/agog-tokens/admin-token ]; then
  AGOG_ADMIN_TOKEN=$(cat /run/agog-tokens/admin-token)
  export AGOG_ADMIN_TOKEN
fi
operators_org_id=
if [ -r "$GF_PATHS_DATA/agog-operators-org-id" ]; then
  operators_org_id=$(cat "$GF_PATHS_DATA/agog-operators-org-id")
fi
render_provisioning /etc/agog/provisioning /etc/agog/alerts "$GF_PATHS_PROVISIONING" "$operators_org_id"
exec /run.sh "$@"
