#!/usr/bin/env bash
# Vulnerability database and matching benchmarks:
#  - full `db import` of ../shared/data/vulndata and ../shared/data/debian:
#    records/s and database size;
#  - BenchmarkMatch10k: 10,000 mixed packages matched on one core;
#  - `scan` vs `sbom` on the debootstrap rootfs (database warm), alternating,
#    median of RUNS: what matching adds.
#
#   bench/vuln.sh [RUNS]     (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
work=${BENCH_DIR:-/var/tmp/bulkhead-bench}
data=${SHARED_DATA:-$(cd .. && pwd)/shared/data}
mkdir -p "$work"
eval "$(scripts/test-env.sh)"
go build -o "$work/bulkhead" ./cmd/bulkhead
BH="$work/bulkhead"

v=$data/vulndata
srcs=("$v/osv-go" "$v/osv-pypi" "$v/osv-crates" "$v/osv-almalinux" "$data/debian/osv" "$v/alpine-secdb-legacy" "$v/kev/known_exploited_vulnerabilities.json")
rm -f "$work/full.db"
start=$(date +%s.%N)
"$BH" db import --db "$work/full.db" "${srcs[@]}" >"$work/import.log"
end=$(date +%s.%N)
records=$("$BH" db status --db "$work/full.db" --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["advisories"] + s["kev"])')
awk -v r="$records" -v a="$start" -v b="$end" -v mb="$(du -m "$work/full.db" | cut -f1)" 'BEGIN{printf "== db import: %d records in %.2f s = %.0f records/s; database %d MB\n", r, b-a, r/(b-a), mb}' 

echo "== matching 10,000 packages on one core"
go test ./internal/vuln/match -run '^$' -bench Match10k -benchtime 5x | grep Benchmark

echo "== scan vs sbom on the rootfs (dir:), median of $runs"
median() { sort -g | awk '{a[NR]=$1} END{if(NR%2){print a[(NR+1)/2]}else{print (a[NR/2]+a[NR/2+1])/2}}'; }
t() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }
s=(); c=()
for ((i = 1; i <= runs; i++)); do
  s+=("$(t "$BH" sbom "dir:$BULKHEAD_TEST_ROOTFS" -q -o json)")
  c+=("$(t "$BH" scan "dir:$BULKHEAD_TEST_ROOTFS" -q -o json --db "$work/full.db" --db-max-age 0)")
done
ms=$(printf '%s\n' "${s[@]}" | median); mc=$(printf '%s\n' "${c[@]}" | median)
awk -v s="$ms" -v c="$mc" 'BEGIN{printf "sbom %.3f s, scan %.3f s: matching adds %.1f %%\n", s, c, (c-s)*100/s}' 
