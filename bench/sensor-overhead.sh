#!/usr/bin/env bash
# Overhead of `bulkhead sensor` (built-in ruleset, default in-kernel
# filters) on syscall-heavy work: each workload is timed in PAIRS
# alternating runs without and with the sensor, and the script prints per
# workload the median wall time off/on and the overhead, the same for the
# workload's CPU time (task-clock, when perf is installed), the sensor's own
# CPU time, its event/lost counters and its RSS.
#
#   sudo bench/sensor-overhead.sh [PAIRS]        (default 5)
#
# Workloads (issue 5), full size by default:
#   gobuild  cold `go build` (empty GOCACHE) of internal/runtime/rules and its
#            dependency closure (stdlib + yaml.v3)
#   tar      extract then delete a tarball of 100,000 small files
#   exec     10,000 fork+exec of /bin/true from a shell loop
#
# Environment:
#   BULKHEAD     binary (default: built from the work tree)
#   WORKLOADS    default "gobuild tar exec"
#   FILES, EXECS sizes of the tar and exec workloads (default 100000, 10000)
#   TAR_DIRS     directories the tarball's files are spread over (default
#                100: 1,000 files each at full size; FILES=10000 TAR_DIRS=10
#                is a tenth of the workload with the same directory size)
#   GOBUILD_PKG  package built by gobuild (default ./internal/runtime/rules/)
#   TAR_DIR      where tar extracts (default: a tmpfs the script mounts, see
#                below); a directory on disk measures the disk case
#   TAR_FS=ext4  extract onto a new ext4 filesystem (loop device, image file
#                on the VM's disk) made before every tar run
#   TAR_COOLDOWN seconds to wait before each tar run (default 0 on the
#                tmpfs, 40 elsewhere; see below)
#   SETTLE       seconds of quiet before every timed run (default 2), the
#                same before "off" and "on" runs
#   SENSOR_ARGS  extra flags for `bulkhead sensor`
#   PROFILE=1    after the pairs, one more "on" run per workload under
#                `perf record -a`: the sensor's share of the samples (see
#                below), a measure the VM's wandering CPU speed does not blur
#   BPF_STATS=1  also report the programs' in-kernel run time per "on" run
#                (kernel.bpf_stats_enabled; the statistics cost a little
#                themselves)
#
# Why tmpfs for tar by default: on ext4 without a journal (the test VMs)
# creating inodes within ~30 s of deleting many scans the recently deleted
# ones (ext4 recently_deleted()): a tar run right after another took 16 s of
# system time for 20,000 files instead of 0.5 s, so back-to-back runs
# measured the gap between runs, not the sensor. On a tmpfs the workload is
# pure syscalls and VFS, the worst case for the sensor's relative cost. With
# TAR_DIR on such a disk keep TAR_COOLDOWN >= 35.
set -euo pipefail
pairs=${1:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bulkhead-bench.XXXXXX)
tarfs=""
cleanup() {
  if [ -n "$tarfs" ]; then umount "$tarfs" 2>/dev/null || true; fi
  umount "$work/ext4mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bin=${BULKHEAD:-$work/bulkhead}
if [ ! -x "$bin" ]; then (cd "$repo" && go build -o "$bin" ./cmd/bulkhead); fi
workloads=${WORKLOADS:-gobuild tar exec}
files=${FILES:-100000}
execs=${EXECS:-10000}
settle=${SETTLE:-2}
pkg=${GOBUILD_PKG:-./internal/runtime/rules/}
have_perf=0
if command -v perf >/dev/null && perf stat -e task-clock -x, -o /dev/null true 2>/dev/null; then have_perf=1; fi

fresh_ext4=0
if [ "${TAR_FS:-}" = ext4 ]; then
  # A new ext4 filesystem (journaled, on a loop device backed by a file on
  # the VM's disk) for every tar run: a real disk filesystem, without the
  # recently-deleted-inode effect of reusing one (see above).
  tardir=$work/ext4mnt
  mkdir -p "$tardir"
  fresh_ext4=1
  cooldown=${TAR_COOLDOWN:-0}
elif [ -n "${TAR_DIR:-}" ]; then
  tardir=$TAR_DIR
  cooldown=${TAR_COOLDOWN:-40}
else
  tarfs=$work/tarfs
  mkdir -p "$tarfs"
  mount -t tmpfs -o size=4g tmpfs "$tarfs"
  tardir=$tarfs
  cooldown=${TAR_COOLDOWN:-0}
fi

case " $workloads " in *" tar "*)
# FILES files of 64 bytes in 100 directories.
python3 - "$work/files.tar" "$files" "${TAR_DIRS:-100}" <<'PY'
import io, sys, tarfile
n, dirs = int(sys.argv[2]), int(sys.argv[3])
with tarfile.open(sys.argv[1], "w") as t:
    data = b"x" * 64
    for d in range(dirs):
        for i in range(n // dirs):
            ti = tarfile.TarInfo(f"d{d}/f{i}")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PY
;; esac

# run_workload is exported so perf can time it in a child shell.
run_workload() {
  case $1 in
    gobuild) cd "$repo" && gc=$(mktemp -d "$work/gocache.XXXX") && GOCACHE=$gc GOFLAGS=-mod=mod go build -o /dev/null "$pkg" && rm -rf "$gc" ;;
    tar) mkdir "$tardir/bulkhead-bench-out" && tar -C "$tardir/bulkhead-bench-out" -xf "$work/files.tar" && rm -rf "$tardir/bulkhead-bench-out" ;;
    exec) for ((i = 0; i < execs; i++)); do /bin/true; done ;;
  esac
}
export -f run_workload
export repo work tardir pkg execs

# timed WORKLOAD: runs it once after the same quiet time; sets wall (s) and
# cpu (s of task-clock, or "-").
timed() {
  sleep "$settle"
  if [ "$1" = tar ] && [ "$cooldown" != 0 ]; then sleep "$cooldown"; fi
  if [ "$1" = tar ] && [ "$fresh_ext4" = 1 ]; then
    rm -f "$work/ext4.img"
    truncate -s 3G "$work/ext4.img"
    # Fixed UUID and directory hash seed: every run gets the same htree
    # layout (a random seed moved single runs by several per cent).
    mkfs.ext4 -q -F -U 6f1d3a52-8c1e-4b7a-9d2e-1a2b3c4d5e6f -E hash_seed=0b9c7d4e-2f1a-4c3b-8e5d-6a7b8c9d0e1f "$work/ext4.img"
    mount -o loop "$work/ext4.img" "$tardir"
    sync
    sleep 1
  fi
  local t0 t1
  t0=$(date +%s.%N)
  if [ $have_perf = 1 ]; then
    perf stat -x, -e task-clock -o "$work/perf.out" -- bash -c "run_workload $1" > /dev/null
    cpu=$(awk -F, '/task-clock/ {printf "%.3f", $1 / 1000}' "$work/perf.out")
  else
    bash -c "run_workload $1" > /dev/null
    cpu=-
  fi
  t1=$(date +%s.%N)
  wall=$(echo "$t1 - $t0" | bc)
  if [ "$1" = tar ] && [ "$fresh_ext4" = 1 ]; then
    umount "$tardir"
    rm -f "$work/ext4.img"
  fi
}

proc_cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }

# prog_stats PID: "runs ns" summed over the BPF programs PID holds.
prog_stats() {
  local f runs=0 ns=0 c t
  for f in /proc/"$1"/fdinfo/*; do
    grep -q '^prog_type' "$f" 2>/dev/null || continue
    c=$(awk '/^run_cnt/ {print $2}' "$f"); t=$(awk '/^run_time_ns/ {print $2}' "$f")
    runs=$((runs + ${c:-0})); ns=$((ns + ${t:-0}))
  done
  echo "$runs $ns"
}

start_sensor() {
  # shellcheck disable=SC2086
  "$bin" sensor -o none ${SENSOR_ARGS:-} 2> "$work/sensor.err" &
  spid=$!
  for _ in $(seq 200); do grep -q "sensor: tracing" "$work/sensor.err" 2>/dev/null && break; sleep 0.05; done
  grep -q "sensor: tracing" "$work/sensor.err" || { cat "$work/sensor.err"; exit 1; }
  sleep 1
  idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status")
  scpu0=$(proc_cpu "$spid")
  bpf0=$(prog_stats "$spid")
}

stop_sensor() {
  peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")
  scpu=$(printf "%.2f" "$(echo "$(proc_cpu "$spid") - $scpu0" | bc)")
  bpf=""
  if [ "${BPF_STATS:-0}" = 1 ]; then
    read -r r1 n1 <<< "$(prog_stats "$spid")"; read -r r0 n0 <<< "$bpf0"
    bpf="; BPF $((r1 - r0)) runs, $(( (n1 - n0) / 1000000 )) ms in kernel"
  fi
  kill -TERM "$spid"; wait "$spid" || true
  # "sensor: N events, M alerts, F opens filtered in the kernel (C by the directory cache), L lost"
  summary=$(grep "events," "$work/sensor.err" | tail -1 | sed 's/^sensor: //' || true)
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
pct() { if [ "$1" = - ] || [ "$2" = - ]; then echo "n/a"; else printf '%+.2f %%' "$(echo "($2 - $1) * 100 / $1" | bc -l)"; fi; }

if [ "${BPF_STATS:-0}" = 1 ]; then sysctl -q kernel.bpf_stats_enabled=1; fi
echo "sensor overhead: $pairs alternating off/on pairs per workload; FILES=$files EXECS=$execs tar in $tardir; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
results=()
for w in $workloads; do
  bash -c "run_workload $w" > /dev/null # warm the page cache and module cache
  : > "$work/off"; : > "$work/on"; : > "$work/cpuoff"; : > "$work/cpuon"; : > "$work/scpu"; : > "$work/events"; : > "$work/lost"; : > "$work/pairpct"
  for r in $(seq "$pairs"); do
    timed "$w"; off=$wall; echo "$wall" >> "$work/off"; [ "$cpu" = - ] || echo "$cpu" >> "$work/cpuoff"
    start_sensor
    timed "$w"; on=$wall; echo "$wall" >> "$work/on"; [ "$cpu" = - ] || echo "$cpu" >> "$work/cpuon"
    stop_sensor
    echo "$scpu" >> "$work/scpu"
    echo "$summary" | awk '{print $1}' >> "$work/events"
    echo "$summary" | awk '{print $(NF-1)}' >> "$work/lost"
    echo "($on - $off) * 100 / $off" | bc -l >> "$work/pairpct"
    echo "$w pair $r: off ${off} s, on ${on} s ($(pct "$off" "$on")); sensor CPU ${scpu} s, RSS idle ${idle_rss} kB, peak ${peak_rss} kB; ${summary}${bpf}" >&2
  done
  off=$(median < "$work/off"); on=$(median < "$work/on")
  coff=$(median < "$work/cpuoff"); con=$(median < "$work/cpuon")
  results+=("$(printf '%-8s wall median off %8.3f s on %8.3f s overhead %10s | workload CPU median off %8s s on %8s s overhead %10s | sensor CPU median %6s s | events median %s, lost max %s' \
    "$w" "$off" "$on" "$(pct "$off" "$on")" "$coff" "$con" "$(pct "$coff" "$con")" "$(median < "$work/scpu")" \
    "$(median < "$work/events")" "$(sort -n "$work/lost" | tail -1)")")
  # The test VMs' CPU speed wanders by 10-25 % from one second to the next,
  # so with many pairs the median of the per-pair overheads comes with a
  # bootstrap 95 % confidence interval.
  results+=("$(python3 - "$w" "$work/pairpct" <<'PY'
import random, statistics, sys
x = [float(l) for l in open(sys.argv[2]) if l.strip()]
random.seed(1)
meds = sorted(statistics.median(random.choices(x, k=len(x))) for _ in range(2000))
print("%-8s median of %d per-pair overheads %+.2f %% (bootstrap 95 %% CI %+.2f .. %+.2f %%); mean %+.2f %%" % (
    sys.argv[1], len(x), statistics.median(x), meds[50], meds[1949], statistics.mean(x)))
PY
)")
  printf '%s\n' "${results[@]: -2}" >&2
done
# PROFILE=1: one more "on" run of each workload under `perf record -a`
# (cpu-clock sampling), and the share of the workload's samples spent in
# the sensor's kernel code (its programs, the tracepoint dispatch, the
# syscall slow path it turns on, the helpers it calls) plus the sensor
# process's own samples. Sampling is not disturbed by the VM's wandering
# CPU speed the way wall time is.
if [ "${PROFILE:-0}" = 1 ] && [ $have_perf = 1 ]; then
  for w in $workloads; do
    start_sensor
    sleep "$settle"
    if [ "$w" = tar ] && [ "$fresh_ext4" = 1 ]; then
      rm -f "$work/ext4.img"; truncate -s 3G "$work/ext4.img"
      mkfs.ext4 -q -F -U 6f1d3a52-8c1e-4b7a-9d2e-1a2b3c4d5e6f -E hash_seed=0b9c7d4e-2f1a-4c3b-8e5d-6a7b8c9d0e1f "$work/ext4.img"
      mount -o loop "$work/ext4.img" "$tardir"; sync; sleep 1
    fi
    perf record -q -a -e cpu-clock -F 2000 -o "$work/perf.data" -- bash -c "run_workload $w" > /dev/null 2>&1
    if [ "$w" = tar ] && [ "$fresh_ext4" = 1 ]; then umount "$tardir"; rm -f "$work/ext4.img"; fi
    stop_sensor
    share=$(perf report -i "$work/perf.data" --no-children --sort comm,sym -F overhead,comm,sym --stdio 2>/dev/null | awk -v sensor="$(basename "$bin")" '
      /^#/ || NF < 3 { next }
      { pct = $1; sub(/%/, "", pct); comm = $2; sym = $NF }
      comm == sensor { own += pct; next }
      comm ~ /^(swapper|perf)$/ || comm ~ /^kworker|^jbd2|^loop|^ksoftirq|^rcu/ { next }
      { work += pct }
      sym ~ /^bpf_prog_/ || sym ~ /^(bpf_trace_run[0-9]|__bpf_trace_sys_exit|__bpf_trace_sched_process_fork|syscall_exit_work|syscall_trace_enter|bpf_probe_read_kernel|bpf_probe_read_user|bpf_probe_read_user_str|bpf_probe_read_kernel_str|copy_from_kernel_nofault|copy_from_kernel_nofault_allowed|strncpy_from_user_nofault|strncpy_from_kernel_nofault|bpf_ringbuf_output|bpf_ringbuf_reserve|bpf_ringbuf_submit|bpf_get_current_task|bpf_get_current_pid_tgid|bpf_get_current_uid_gid|bpf_get_current_comm|bpf_get_current_cgroup_id|bpf_ktime_get_boot_ns|htab_map_hash|__htab_map_lookup_elem|htab_lru_map_lookup_elem|perf_trace_buf_alloc|trace_call_bpf)$/ { hook += pct }
      END { printf "%.2f %.2f %.2f", work, hook, own }')
    read -r workpct hookpct ownpct <<< "$share"
    results+=("$(printf '%-8s profile: workload %.1f %% of samples, of which the sensor kernel code %.2f %%; sensor process %.2f %% → sensor share %.2f %% of the workload' \
      "$w" "$workpct" "$hookpct" "$ownpct" "$(echo "($hookpct + $ownpct) * 100 / ($workpct - $hookpct)" | bc -l)")")
    echo "${results[-1]}" >&2
  done
fi
if [ "${BPF_STATS:-0}" = 1 ]; then sysctl -q kernel.bpf_stats_enabled=0; fi
echo
printf '%s\n' "${results[@]}"
