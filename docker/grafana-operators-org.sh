#!/bin/sh
# One-shot step of docker-compose.yml, in the Grafana image, after Grafana is healthy.
# Grafana OSS lets every member of an org query every data source of that org, so the
# all-tenant credentials (the admin-token plugin data source, the alerting SQL login) and
# the alert rules live in an org of their own, which only operators join
# (provisioning/README.md). Grafana's file provisioning cannot create an org and refuses
# to start on a file whose org does not exist, so this step, through Grafana's HTTP API:
#   1. finds the operators' org by name, or creates it (the admin user becomes its Admin);
#   2. creates the folder "AGOG Performance" with its fixed uid in that org, before any
#      provisioner runs there: the alert rules (which find a folder by title) and the
#      dashboards (which find it by uid) then share it, whichever runs first;
#   3. keeps the org's id in Grafana's data volume, writes the provisioning folder with the
#      operators' files (docker/grafana-provisioning.sh) and has Grafana reload it;
#   4. makes the Overview dashboard the home dashboard of both orgs, by uid.
# Every step is idempotent: it runs at each `docker compose up`.
set -eu
here=$(dirname "$0")
. "$here/placeholders.sh"
. "$here/grafana-provisioning.sh"
refuse_placeholders GF_SECURITY_ADMIN_PASSWORD

grafana=${GRAFANA_URL:-http://grafana:3000}
# Where compose mounts provisioning/ and alerts/ of the repository.
provisioning_source=${AGOG_PROVISIONING_SOURCE:-/etc/agog/provisioning}
alerts_source=${AGOG_ALERTS_SOURCE:-/etc/agog/alerts}
org_name=${AGOG_OPERATORS_ORG_NAME:-AGOG Operators}
# The folder of the operators' dashboard provider, as that file names it.
operators_provider=$provisioning_source/dashboards/agog-performance-operators.yaml
folder_uid=$(provider_folder "$operators_provider" folderUid)
folder_title=$(provider_folder "$operators_provider" folder)
home_uid=agog-overview
dashboards_org_id=1

# The admin login goes to curl in a config on stdin, not on its command line (which `ps`
# shows); quotes and backslashes are escaped as curl's config format wants.
credentials=$(printf '%s:%s' "$GF_SECURITY_ADMIN_USER" "$GF_SECURITY_ADMIN_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')

# api METHOD PATH [ORG_ID [JSON]]: the answer's body on stdout; fails on an HTTP error.
api() {
  set -- "$1" "$2" "${3:-}" "${4:-}"
  printf 'user = "%s"\n' "$credentials" | curl --config - --silent --show-error --fail \
    --header 'Content-Type: application/json' \
    ${3:+--header "X-Grafana-Org-Id: $3"} \
    ${4:+--data "$4"} \
    --request "$1" "$grafana$2"
}

# json_number KEY: the first number value of "KEY" in the JSON on stdin.
json_number() {
  grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2
}

tries=0
until curl --silent --fail "$grafana/api/health" > /dev/null; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "Grafana did not answer at $grafana/api/health" >&2
    exit 1
  fi
  sleep 2
done

encoded_name=$(printf '%s' "$org_name" | sed 's/ /%20/g')
if answer=$(api GET "/api/orgs/name/$encoded_name" 2> /dev/null); then
  org_id=$(printf '%s' "$answer" | json_number id)
  echo "operators' org \"$org_name\": found, id $org_id"
  # The admin user may have been removed from it by hand; adding again fails harmlessly.
  api POST "/api/orgs/$org_id/users" '' "{\"loginOrEmail\":\"$GF_SECURITY_ADMIN_USER\",\"role\":\"Admin\"}" > /dev/null 2>&1 || true
else
  org_id=$(api POST /api/orgs '' "{\"name\":\"$org_name\"}" | json_number orgId)
  echo "operators' org \"$org_name\": created, id $org_id"
fi
case "$org_id" in
  '' | *[!0-9]* | 1)
    echo "unexpected id \"$org_id\" for the operators' org" >&2
    exit 1
    ;;
esac

if api GET "/api/folders/$folder_uid" "$org_id" > /dev/null 2>&1; then
  echo "folder $folder_uid: exists"
else
  api POST /api/folders "$org_id" "{\"uid\":\"$folder_uid\",\"title\":\"$folder_title\"}" > /dev/null
  echo "folder $folder_uid: created"
fi

printf '%s\n' "$org_id" > "$GF_PATHS_DATA/agog-operators-org-id.tmp"
mv "$GF_PATHS_DATA/agog-operators-org-id.tmp" "$GF_PATHS_DATA/agog-operators-org-id"
render_provisioning "$provisioning_source" "$alerts_source" "$GF_PATHS_PROVISIONING" "$org_id"
for kind in datasources alerting dashboards; do
  api POST "/api/admin/provisioning/$kind/reload" > /dev/null
  echo "provisioning $kind: reloaded"
done

for org in "$dashboards_org_id" "$org_id"; do
  api PATCH /api/org/preferences "$org" "{\"homeDashboardUID\":\"$home_uid\"}" > /dev/null
  echo "org $org: home dashboard $home_uid"
done
