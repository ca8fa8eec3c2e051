#!/usr/bin/env bash
# Inventory server load and node-agent footprint (docs/benchmarks.md,
# "Inventory agent and load").
#
#   bench/inventory.sh load       # loadgen into a real server: SQLite, then PostgreSQL
#   bench/inventory.sh footprint  # a real `bulkhead agent`: idle, real engine churn, simulated 50 starts/s
#   bench/inventory.sh            # both
#
# Sizes: AGENTS (5000), CONTAINERS (100000), IMAGES (10000), CONCURRENCY (32);
# STORES ("sqlite postgres"; postgres needs BULKHEAD_TEST_POSTGRES);
# footprint: RATE (50 starts/s), SECONDS_IDLE (60), SECONDS_LOAD (60).
# Results go to $BENCH_OUT (default /tmp/bulkhead-bench-inventory).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
out=${BENCH_OUT:-/tmp/bulkhead-bench-inventory}
mkdir -p "$out"
eval "$(scripts/test-env.sh)"
export BULKHEAD_ADMIN_TOKEN=bench-admin-token-0123456789
AGENTS=${AGENTS:-5000}
CONTAINERS=${CONTAINERS:-100000}
IMAGES=${IMAGES:-10000}
CONCURRENCY=${CONCURRENCY:-32}
STORES=${STORES:-sqlite postgres}
RATE=${RATE:-50}
SECONDS_IDLE=${SECONDS_IDLE:-60}
SECONDS_LOAD=${SECONDS_LOAD:-60}
port=${PORT:-7171}
url=http://127.0.0.1:$port

echo "building into $out" >&2
go build -o "$out/bulkhead" ./cmd/bulkhead
go build -o "$out/loadgen" ./bench/inventory/loadgen
go build -o "$out/churn" ./bench/inventory/churn
rm -f "$out/vuln.db"
"$out/bulkhead" db import --db "$out/vuln.db" "${BULKHEAD_SHARED_DATA:-/work/shared/data}/debian/osv" >/dev/null

server_pid=""
start_server() { # $1 store, $2 log
  "$out/bulkhead" -v server --listen 127.0.0.1:$port --store "$1" --db "$out/vuln.db" >"$2" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "server did not start:" >&2; cat "$2" >&2; exit 1
}
stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

load() { # $1 name, $2 store
  echo "== load: $1 ($AGENTS agents, $CONTAINERS containers, $IMAGES images)" >&2
  start_server "$2" "$out/server-$1.log"
  "$out/loadgen" -server "$url" -agents "$AGENTS" -containers "$CONTAINERS" -images "$IMAGES" \
    -concurrency "$CONCURRENCY" -report "$out/load-$1.json" | tee "$out/load-$1.txt"
  echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server_pid/status)" | tee -a "$out/load-$1.txt"
  stop "$server_pid"
}

# sample PID SECONDS: CPU % of one core (utime+stime over wall time) and
# RSS (mean and max of one sample per second).
sample() {
  local pid=$1 secs=$2 hz t0 t1 sum=0 n=0 max=0 rss
  hz=$(getconf CLK_TCK)
  t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  for _ in $(seq 1 "$secs"); do
    sleep 1
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    sum=$((sum + rss)); n=$((n + 1)); [ "$rss" -gt "$max" ] && max=$rss
  done
  t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$secs" -v m=$((sum / n)) -v x="$max" \
    'BEGIN { printf "cpu %.2f %% of one core, rss mean %.1f MiB max %.1f MiB\n", 100*d/hz/s, m/1024, x/1024 }'
}

footprint() {
  echo "== footprint" >&2
  rm -f "$out/footprint.db"*
  start_server "$out/footprint.db" "$out/server-footprint.log"
  tok() { curl -fsS -H "Authorization: Bearer $BULKHEAD_ADMIN_TOKEN" -d "{\"kind\":\"agent\",\"name\":\"$1\"}" "$url/api/v1/tokens" | sed 's/.*"secret":"\([^"]*\)".*/\1/'; }
  local ctx img
  ctx=$(mktemp -d)
  cp "$BULKHEAD_TEST_BUSYBOX" "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "true"]\n' >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t bulkhead-bench/busybox:1 "$ctx" >/dev/null 2>&1
  rm -rf "$ctx"
  img=$(docker image inspect -f '{{.Id}}' bulkhead-bench/busybox:1)

  # 1. Real engine: idle, then churn at RATE (the engine sets the pace).
  rm -rf "$out/agent-real"
  "$out/bulkhead" agent -v --server "$url" --token "$(tok bench-real)" --queue-dir "$out/agent-real/q" \
    --cache-dir "$out/agent-real/cache" --host-root "$BULKHEAD_TEST_ROOTFS" --scan-interval 0 --hostname bench-real \
    >"$out/agent-real.log" 2>&1 &
  local apid=$!
  sleep 20 # start-up: listing, image scans, host scan, first checks
  echo "agent, real engine, idle ${SECONDS_IDLE}s: $(sample $apid "$SECONDS_IDLE")" | tee "$out/footprint.txt"
  "$out/churn" -image bulkhead-bench/busybox:1 -rate "$RATE" -duration "${SECONDS_LOAD}s" -cmd "/bin/busybox true" \
    -label bulkhead.bench=footprint >"$out/churn-real.txt" &
  local cpid=$!
  echo "agent, real engine, churn ${SECONDS_LOAD}s: $(sample $apid "$SECONDS_LOAD")" | tee -a "$out/footprint.txt"
  wait $cpid || true
  tee -a "$out/footprint.txt" <"$out/churn-real.txt"
  stop $apid
  docker ps -aq --filter label=bulkhead.bench=footprint | xargs -r docker rm -f >/dev/null 2>&1 || true

  # 2. Simulated engine (Engine API on a unix socket) starting RATE
  #    containers/s, which this machine's engine cannot: the agent does the
  #    same work per container (event stream, inspect, queue, delivery).
  rm -rf "$out/agent-sim" "$out/fake.sock"
  "$out/churn" -fake-engine "$out/fake.sock" -image "$img" -rate "$RATE" -duration "${SECONDS_LOAD}s" -wait 30s \
    -label bulkhead.bench=sim >"$out/churn-sim.txt" &
  cpid=$!
  sleep 1
  DOCKER_HOST=unix://$out/fake.sock "$out/bulkhead" agent -v --server "$url" --token "$(tok bench-sim)" \
    --queue-dir "$out/agent-sim/q" --cache-dir "$out/agent-sim/cache" --host-root "$BULKHEAD_TEST_ROOTFS" \
    --scan-interval 0 --hostname bench-sim --no-checks >"$out/agent-sim.log" 2>&1 &
  apid=$!
  sleep 12 # start-up (host scan)
  echo "agent, simulated engine, idle 15s: $(sample $apid 15)" | tee -a "$out/footprint.txt"
  sleep 3
  echo "agent, simulated engine, ${RATE} starts/s for ${SECONDS_LOAD}s: $(sample $apid "$SECONDS_LOAD")" | tee -a "$out/footprint.txt"
  wait $cpid || true
  tee -a "$out/footprint.txt" <"$out/churn-sim.txt"
  sleep 5
  stop $apid
  grep -h "docker watcher stopped\|bulkhead agent: stopped" "$out/agent-sim.log" | tee -a "$out/footprint.txt"
  local n
  n=$(curl -fsS -H "Authorization: Bearer $BULKHEAD_ADMIN_TOKEN" "$url/api/v1/hosts/bench-sim/containers?limit=1&state=destroyed" | sed 's/.*"total":\([0-9]*\).*/\1/')
  echo "server has $n destroyed containers for bench-sim" | tee -a "$out/footprint.txt"
  stop "$server_pid"
}

case $what in
load | all)
  if [[ " $STORES " == *" sqlite "* ]]; then
    rm -f "$out/inv-sqlite.db"*
    load sqlite "$out/inv-sqlite.db"
  fi
  if [[ " $STORES " == *" postgres "* && -n "${BULKHEAD_TEST_POSTGRES:-}" ]]; then
    pg=${BULKHEAD_TEST_POSTGRES%%\?*}
    psql "$BULKHEAD_TEST_POSTGRES" -qc "DROP DATABASE IF EXISTS bulkhead_bench WITH (FORCE)" -c "CREATE DATABASE bulkhead_bench"
    load postgres "${pg%/*}/bulkhead_bench?sslmode=disable"
  fi
  ;;&
footprint | all)
  footprint
  ;;
esac
