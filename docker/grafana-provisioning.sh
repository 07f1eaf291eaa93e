# Sourced by docker/grafana-entrypoint.sh and docker/grafana-operators-org.sh: writes the
# provisioning folder Grafana reads (GF_PATHS_PROVISIONING) from the repository's files.
#
# render_provisioning SOURCE ALERTS TARGET [OPERATORS_ORG_ID]
#   SOURCE   provisioning/ of the repository (datasources/, dashboards/)
#   ALERTS   alerts/ of the repository (its YAML files go to alerting/)
#   TARGET   the folder Grafana reads; its datasources/, dashboards/ and alerting/ are rewritten
#   OPERATORS_ORG_ID  the id of the operators' org, once docker/grafana-operators-org.sh
#            created it. Files that name __AGOG_OPERATORS_ORG_ID__ belong to that org: they
#            are left out without it (Grafana refuses to start on a file whose org does not
#            exist), and get the id written in with it.
render_provisioning() {
  source_dir=$1
  alerts_dir=$2
  target_dir=$3
  operators_org_id=${4:-}
  case "$operators_org_id" in
    '' | *[!0-9]*)
      if [ -n "$operators_org_id" ]; then
        echo "operators' org id \"$operators_org_id\" is not a number" >&2
        return 1
      fi
      ;;
  esac
  for kind in datasources dashboards alerting; do
    mkdir -p "$target_dir/$kind"
    rm -f "$target_dir/$kind"/*.yaml
  done
  for file in "$source_dir"/datasources/*.yaml "$source_dir"/dashboards/*.yaml "$alerts_dir"/*.yaml; do
    [ -e "$file" ] || continue
    case "$file" in
      "$alerts_dir"/*) kind=alerting ;;
      */datasources/*) kind=datasources ;;
      *) kind=dashboards ;;
    esac
    target="$target_dir/$kind/$(basename "$file")"
    if grep -q '__AGOG_OPERATORS_ORG_ID__' "$file"; then
      [ -n "$operators_org_id" ] || continue
      sed "s/__AGOG_OPERATORS_ORG_ID__/$operators_org_id/g" "$file" > "$target"
    else
      cp "$file" "$target"
    fi
  done
}

# provider_folder FILE KEY: the value of KEY (folder or folderUid) in a dashboard provider
# file, as docker/grafana-operators-org.sh reads the folder it must create.
provider_folder() {
  sed -n "s/^ *$2: *//p" "$1" | head -n 1
}
