# Sourced by the compose entrypoints (docker/*-entrypoint.sh, docker/grafana-operators-org.sh).
# refuse_placeholders NAME...: prints one line for each variable that is empty or still a
# "change-me" value of .env.example, naming it, and exits 1 if there was any. Secrets
# from .env.example must never reach a running stack.
refuse_placeholders() {
  refused=0
  for name in "$@"; do
    eval "value=\${$name:-}"
    case "$value" in
      '')
        echo "$name is empty: set it in .env (see .env.example)" >&2
        refused=1
        ;;
      change-me*)
        echo "$name is still the placeholder \"$value\" of .env.example: set a secret of your own in .env" >&2
        refused=1
        ;;
    esac
  done
  if [ "$refused" -ne 0 ]; then
    echo "refusing to start with placeholder secrets" >&2
    exit 1
  fi
}
