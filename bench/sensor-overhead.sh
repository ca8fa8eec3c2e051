#!/usr/bin/env bash
# Overhead of `bulkhead sensor` (built-in ruleset, default in-kernel
# filters) on syscall-heavy work, timed without and with the sensor in
# alternating runs; prints the median of RUNS runs each and the sensor's
# RSS at idle and its peak under load, and its event/lost counters.
#
#   sudo bench/sensor-overhead.sh [RUNS]        (default 5)
#
# Workloads:
#   gobuild  cold `go build` (empty GOCACHE) of internal/runtime/rules and
#            its dependency closure (stdlib + yaml.v3)
#   tar      extract then delete a tarball of 100,000 small files
#   exec     10,000 fork+exec of /bin/true from a shell loop
# Environment: BULKHEAD (binary; default: built into the work dir),
# WORKLOADS (default "gobuild tar exec"), SENSOR_ARGS (extra flags),
# FILES (default 100000) and EXECS (default 10000) to scale the tar and
# exec workloads down on a slow machine.
set -euo pipefail
runs=${1:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bulkhead-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin=${BULKHEAD:-$work/bulkhead}
if [ ! -x "$bin" ]; then (cd "$repo" && go build -o "$bin" ./cmd/bulkhead); fi
workloads=${WORKLOADS:-gobuild tar exec}

# FILES files of 64 bytes in 100 directories.
python3 - "$work/files.tar" "${FILES:-100000}" <<'PY'
import io, sys, tarfile
n = int(sys.argv[2])
with tarfile.open(sys.argv[1], "w") as t:
    data = b"x" * 64
    for d in range(100):
        for i in range(n // 100):
            ti = tarfile.TarInfo(f"d{d}/f{i}")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PY

run_workload() {
  case $1 in
    gobuild) (cd "$repo" && GOCACHE=$(mktemp -d "$work/gocache.XXXX") GOFLAGS=-mod=mod go build -o /dev/null ./internal/runtime/rules/ && rm -rf "$work"/gocache.*) ;;
    tar) mkdir "$work/out" && tar -C "$work/out" -xf "$work/files.tar" && rm -rf "$work/out" ;;
    exec) bash -c "for ((i=0;i<${EXECS:-10000};i++)); do /bin/true; done" ;;
  esac
}

now() { date +%s.%N; }

start_sensor() {
  # shellcheck disable=SC2086
  "$bin" sensor -o none ${SENSOR_ARGS:-} 2> "$work/sensor.err" &
  spid=$!
  for _ in $(seq 200); do grep -q "sensor: tracing" "$work/sensor.err" 2>/dev/null && break; sleep 0.05; done
  grep -q "sensor: tracing" "$work/sensor.err" || { cat "$work/sensor.err"; exit 1; }
  sleep 1
  idle_rss=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
}

stop_sensor() {
  peak_rss=$(awk '/VmHWM/ {print $2}' /proc/$spid/status)
  kill -TERM $spid; wait $spid || true
  summary=$(grep "events," "$work/sensor.err" | tail -1 || true)
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

for w in $workloads; do
  run_workload "$w" # warm the page cache and module cache
  : > "$work/off"; : > "$work/on"
  for r in $(seq "$runs"); do
    t0=$(now); run_workload "$w"; t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/off"
    start_sensor
    t0=$(now); run_workload "$w"; t1=$(now)
    stop_sensor
    echo "$t1 - $t0" | bc >> "$work/on"
    echo "$w run $r: off $(tail -1 "$work/off") s, on $(tail -1 "$work/on") s; sensor RSS idle ${idle_rss} kB, peak ${peak_rss} kB; $summary" >&2
  done
  off=$(median < "$work/off"); on=$(median < "$work/on")
  printf '%-8s median off %8.3f s  on %8.3f s  overhead %+6.2f %%  (runs: off %s | on %s)\n' "$w" "$off" "$on" \
    "$(echo "($on - $off) * 100 / $off" | bc -l)" "$(paste -sd' ' "$work/off")" "$(paste -sd' ' "$work/on")"
done
