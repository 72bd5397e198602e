# Sourced by .ci/schemathesis.sh and .ci/harness.sh: the built vLLM simulator and the built
# gateway on loopback for a CI suite, on port 0 (the ports are read back from their logs, so
# there is no race for a free port), stopped on every exit path.
#
#   start_sim_and_gateway LOG_DIR GATEWAY_CONFIG [simulator args...]
#
# GATEWAY_CONFIG is a THINKGATE_CONFIG path ('' for none). Sets SIM_URL, GW_URL, SIM_LOG, GW_LOG,
# SIM_PID, GW_PID; returns once /ready says 200; exits the script on a failed start. Installs an
# EXIT trap that stops both processes (SIGTERM: the gateway drains, nothing is in flight by then).

SIM_PID=
GW_PID=

_sim_gateway_cleanup() {
  local rc=$?
  for pid in $GW_PID $SIM_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in $GW_PID $SIM_PID; do wait "$pid" 2>/dev/null || true; done
  exit "$rc"
}

# Waits until FILE has a line matching REGEX; prints the first http://127.0.0.1:port in it.
_wait_for_url() {
  local file=$1 regex=$2 pid=$3 what=$4 line
  for _ in $(seq 1 100); do
    if line=$(grep -m1 -E "$regex" "$file" 2>/dev/null); then
      grep -oE 'http://127\.0\.0\.1:[0-9]+' <<<"$line" | head -n1
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "$what exited during start-up:" >&2; cat "$file" >&2; return 1; }
    sleep 0.1
  done
  echo "$what did not start within 10 s:" >&2
  cat "$file" >&2
  return 1
}

start_sim_and_gateway() {
  local dir=$1 config=$2
  shift 2
  for f in dist/src/index.js dist/src/sim/main.js; do
    [[ -f $f ]] || { echo "missing $f: run 'npm run build' first" >&2; exit 1; }
  done
  SIM_LOG=$dir/sim.log
  GW_LOG=$dir/gateway.log
  # Fresh logs: the start-up wait reads them, and must not find the last run's port.
  rm -f "$SIM_LOG" "$GW_LOG"
  trap _sim_gateway_cleanup EXIT
  trap 'exit 130' INT TERM

  node dist/src/sim/main.js --host 127.0.0.1 --port 0 "$@" >"$SIM_LOG" 2>&1 &
  SIM_PID=$!
  SIM_URL=$(_wait_for_url "$SIM_LOG" 'listening on http' "$SIM_PID" simulator) || exit 1
  echo "   simulator (pid $SIM_PID) at $SIM_URL"

  THINKGATE_UPSTREAMS=$SIM_URL THINKGATE_HOST=127.0.0.1 THINKGATE_PORT=0 THINKGATE_LOG_LEVEL=info \
    THINKGATE_API_KEYS= THINKGATE_CONFIG=$config node dist/src/index.js >"$GW_LOG" 2>&1 &
  GW_PID=$!
  GW_URL=$(_wait_for_url "$GW_LOG" '"msg":"Server listening at http' "$GW_PID" gateway) || exit 1
  echo "   gateway (pid $GW_PID) at $GW_URL"

  # /ready turns 200 once the background health check has seen the simulator.
  for _ in $(seq 1 100); do
    if node -e "fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))" "$GW_URL/ready"; then
      echo "   gateway ready"
      return 0
    fi
    sleep 0.1
  done
  echo "gateway never became ready:" >&2
  cat "$GW_LOG" >&2
  exit 1
}
