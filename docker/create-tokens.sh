#!/bin/sh
# One-shot step of docker-compose.yml, in the service image: creates the API tokens that
# Grafana's data sources and the demo traffic use, and writes each into the shared
# volume (mounted at /run/agog-tokens), one token per file. A token is created only when
# its file is missing or the token it names is no longer active (e.g. the database
# volume was reset), so restarts keep the tokens Grafana already has.
set -eu
dir=/run/agog-tokens
: "${AGOG_TENANT_ID:?AGOG_TENANT_ID must be set (see .env.example)}"

active() {
  [ -s "$dir/$1" ] && [ -s "$dir/$1.id" ] &&
    npx agog-perf token list | grep -q "^$(cat "$dir/$1.id")  .*  active  "
}

ensure() {
  name=$1
  shift
  if active "$name"; then
    echo "$name: keeping the existing token"
    return
  fi
  output=$(npx agog-perf token create "$@")
  # The first line is "created token <id> for ...", the last the token itself.
  printf '%s\n' "$output" | head -n 1 | awk '{print $3}' > "$dir/$name.id"
  printf '%s\n' "$output" | tail -n 1 > "$dir/$name.tmp"
  chmod 644 "$dir/$name.tmp" "$dir/$name.id"
  mv "$dir/$name.tmp" "$dir/$name"
  echo "$name: created"
}

ensure read-token --tenant "$AGOG_TENANT_ID" --scope read --name "grafana (compose)"
ensure admin-token --admin --name "grafana admin (compose)"
ensure ingest-token --tenant "$AGOG_TENANT_ID" --scope ingest --name "demo traffic (compose)"
