# shellcheck shell=bash
# A throw-away local registry (Debian's docker-registry) for scripts: free 127.0.0.1 port, temp storage.
#   registry_start WORKDIR   -> sets REGISTRY_PORT, REGISTRY_PID; logs to WORKDIR/registry.log
#   registry_stop

registry_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  echo "registry: no free port found" >&2
  return 1
}

registry_start() {
  local workdir=$1 attempt
  mkdir -p "$workdir/storage"
  for attempt in 1 2 3; do
    REGISTRY_PORT=$(registry_free_port)
    cat >"$workdir/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $workdir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  secret: basalt-local-$RANDOM$RANDOM
YAML
    docker-registry serve "$workdir/registry.yml" >"$workdir/registry.log" 2>&1 &
    REGISTRY_PID=$!
    for _ in $(seq 1 100); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/v2/" 2>/dev/null; then
        return 0
      fi
      if ! kill -0 "$REGISTRY_PID" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    registry_stop
    echo "registry: attempt $attempt on port $REGISTRY_PORT failed:" >&2
    tail -n 5 "$workdir/registry.log" >&2 || true
  done
  return 1
}

registry_stop() {
  if [[ -n "${REGISTRY_PID:-}" ]]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=
  fi
}
