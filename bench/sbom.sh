#!/usr/bin/env bash
# Side-by-side SBOM benchmark: Bulkhead vs Syft vs Trivy, alternating runs,
# median wall time and peak RSS (GNU time -v) of N cold runs per tool and
# input, each with a fresh cache. Also Bulkhead's warm re-scan (layer cache
# filled) and the 1M-file synthetic image.
#
#   bench/sbom.sh [RUNS]          (default 7; the 1M-file image runs 3 times)
#
# Inputs: the debootstrap rootfs from scripts/test-env.sh (as dir:), its
# docker-save archive (docker import + docker save), and a synthetic
# docker-save archive of 1,000,000 small files (bench/mkimage).
# Reference tools are built from the Go module proxy when missing:
#   go install github.com/anchore/syft/cmd/syft@v1.57.1
#   GOEXPERIMENT=jsonv2 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
big_runs=${BIG_RUNS:-3}
work=${BENCH_DIR:-/var/tmp/bulkhead-bench}
mkdir -p "$work"
eval "$(scripts/test-env.sh)"
: "${BULKHEAD_TEST_ROOTFS:?scripts/test-env.sh could not make the rootfs}"
export SYFT_CHECK_FOR_APP_UPDATE=false
gobin=$(go env GOPATH)/bin
[ -x "$gobin/syft" ] || go install github.com/anchore/syft/cmd/syft@v1.57.1
[ -x "$gobin/trivy" ] || GOEXPERIMENT=jsonv2 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
go build -o "$work/bulkhead" ./cmd/bulkhead
BH="$work/bulkhead"; SYFT="$gobin/syft"; TRIVY="$gobin/trivy"

rootfs=$BULKHEAD_TEST_ROOTFS
archive="$work/bookworm.tar"
if [ ! -s "$archive" ]; then
  tar -C "$rootfs" --exclude=./.complete -cf "$work/rootfs.tar" .
  docker import "$work/rootfs.tar" bulkhead-bench/bookworm:latest >/dev/null
  rm -f "$work/rootfs.tar"
  docker save -o "$archive" bulkhead-bench/bookworm:latest
fi
docker image inspect bulkhead-bench/bookworm:latest >/dev/null 2>&1 || docker load -i "$archive" >/dev/null
big="$work/synthetic-1m.tar"
[ -s "$big" ] || go run ./bench/mkimage -files 1000000 -status "$rootfs/var/lib/dpkg/status" -o "$big"

# measure NAME CMD... : one cold run; prints "seconds kbytes".
measure() {
  local out; out=$(mktemp)
  /usr/bin/time -v -o "$out" timeout "${TOOL_TIMEOUT:-1200}" "$@" >/dev/null 2>"$work/last.err" || { echo "FAILED: $*" >&2; cat "$work/last.err" >&2; rm -f "$out"; echo "nan nan"; return; }
  awk -F': ' '/Elapsed \(wall clock\)/{split($2,t,":"); s=(length(t)==3)?t[1]*3600+t[2]*60+t[3]:t[1]*60+t[2]} /Maximum resident/{m=$2} END{printf "%.3f %d\n", s, m}' "$out"
  rm -f "$out"
}

# tool commands: $1 = kind (dir|archive), $2 = path; each gets a fresh cache dir.
run_tool() {
  local tool=$1 kind=$2 path=$3 cache; cache=$(mktemp -d "$work/cache.XXXX")
  case "$tool/$kind" in
    bulkhead/dir)     measure "$BH" sbom "dir:$path" -q -o cyclonedx-json --cache-dir "$cache" ;;
    bulkhead/archive) measure "$BH" sbom "docker-archive:$path" -q -o cyclonedx-json --cache-dir "$cache" ;;
    bulkhead-warm/archive) measure "$BH" sbom "docker-archive:$path" -q -o cyclonedx-json --cache-dir "$work/warm-cache" ;;
    bulkhead/docker)  measure "$BH" sbom "docker:$path" -q -o cyclonedx-json --cache-dir "$cache" ;;
    bulkhead-warm/docker) measure "$BH" sbom "docker:$path" -q -o cyclonedx-json --cache-dir "$work/warm-cache" ;;
    syft/docker)      TMPDIR=$cache measure "$SYFT" scan "docker:$path" -q -o cyclonedx-json ;;
    trivy/docker)     measure "$TRIVY" image --image-src docker --offline-scan --scanners license --format cyclonedx --cache-dir "$cache" --skip-version-check -q "$path" ;;
    syft/dir)         measure "$SYFT" scan "dir:$path" -q -o cyclonedx-json ;;
    syft/archive)     TMPDIR=$cache measure "$SYFT" scan "docker-archive:$path" -q -o cyclonedx-json ;;
    trivy/dir)        measure "$TRIVY" rootfs --offline-scan --scanners license --format cyclonedx --cache-dir "$cache" --skip-version-check -q "$path" ;;
    trivy/archive)    measure "$TRIVY" image --input "$path" --offline-scan --scanners license --format cyclonedx --cache-dir "$cache" --skip-version-check -q ;;
  esac
  rm -rf "$cache"
}

median() { sort -g | awk '{a[NR]=$1} END{if(NR%2){print a[(NR+1)/2]}else{print (a[NR/2]+a[NR/2+1])/2}}'; }

bench_input() {
  local label=$1 kind=$2 path=$3 n=$4; shift 4
  local tools=("$@")
  declare -A W M
  for ((i = 1; i <= n; i++)); do
    for t in "${tools[@]}"; do
      read -r s m < <(run_tool "$t" "$kind" "$path")
      W[$t]+="$s "; M[$t]+="$m "
    done
  done
  for t in "${tools[@]}"; do
    printf '| %s | %s | %s s | %s MB | %d |\n' "$label" "$t" \
      "$(tr ' ' '\n' <<<"${W[$t]}" | grep -v '^$' | median)" \
      "$(tr ' ' '\n' <<<"${M[$t]}" | grep -v '^$' | median | awk '{printf "%.0f", $1/1024}')" "$n"
  done
}

# Fill the warm cache once (the daemon image has the same layer).
rm -rf "$work/warm-cache"
"$BH" sbom "docker-archive:$archive" -q -o json --cache-dir "$work/warm-cache" >/dev/null
"$BH" sbom "docker-archive:$big" -q -o json --cache-dir "$work/warm-cache" >/dev/null

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); $(go version)"
echo "bulkhead $(git rev-parse --short HEAD), syft v1.57.1, trivy v0.74.0 (both built from the Go module proxy)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rootfs: $(find "$rootfs" | wc -l) entries; archive: $(du -m "$archive" | cut -f1) MB; synthetic: $(du -m "$big" | cut -f1) MB"
echo
echo "| input | tool | median wall | median peak RSS | runs |"
echo "|---|---|---|---|---|"
bench_input "rootfs dir:" dir "$rootfs" "$runs" bulkhead syft trivy
bench_input "docker-archive" archive "$archive" "$runs" bulkhead bulkhead-warm syft trivy
bench_input "docker daemon" docker bulkhead-bench/bookworm:latest "$runs" bulkhead bulkhead-warm syft trivy
bench_input "1M-file image" archive "$big" "$big_runs" bulkhead bulkhead-warm syft trivy
