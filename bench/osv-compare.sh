#!/usr/bin/env bash
# Side by side with osv-scanner 2.6.0 on the same OSV data (../shared/data):
#  1. correctness: the Debian 12 vulnerable image (source package, CVE) sets,
#     per-binary findings vs expected.json, and every real lockfile folder;
#  2. speed: `scan docker-archive:` of the Debian vulnerable image, both
#     tools alternating, median wall time and peak RSS of RUNS runs.
#
#   bench/osv-compare.sh [RUNS]     (default 5)
#
# osv-scanner builds from the Go module proxy when missing:
#   GOTOOLCHAIN=go1.27.3 go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0
# The image follows ../shared/data/debian/README.md: debootstrap bookworm with
# openssl,curl,libxml2,python3,perl,openssh-client,git, the rolled-back dpkg
# status copied over, docker import + docker save (kept in $BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=${BENCH_DIR:-/var/tmp/bulkhead-bench}
data=${SHARED_DATA:-$(cd .. && pwd)/shared/data}
[ -d "$data/debian" ] || { echo "no shared data at $data" >&2; exit 1; }
mkdir -p "$work"
eval "$(scripts/test-env.sh)"
gobin=$(go env GOPATH)/bin
[ -x "$gobin/osv-scanner" ] || GOTOOLCHAIN=go1.27.3 go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0
OSV="$gobin/osv-scanner"
go build -o "$work/bulkhead" ./cmd/bulkhead
BH="$work/bulkhead"

# Same advisories for both tools.
srcs=("$data/debian/osv" "$data/vulndata/osv-go" "$data/vulndata/osv-pypi" "$data/vulndata/osv-crates" "$data/vulndata/osv-almalinux")
rm -rf "$work/osvroot" "$work/cmp.db"
go run ./bench/osvdb -o "$work/osvroot" -empty npm,Maven,RubyGems,Packagist,NuGet,Alpine,Ubuntu "${srcs[@]}" >/dev/null
"$BH" db import --db "$work/cmp.db" "${srcs[@]}" >/dev/null
export OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="$work/osvroot" OSV_SCALIBR_LOCAL_DB_CACHE_DIRECTORY="$work/osvroot"

# The Debian vulnerable image.
img="$work/debian-vulnerable.tar"
if [ ! -s "$img" ]; then
  root="${BULKHEAD_TEST_CACHE:-/var/cache/bulkhead-test}/bookworm-vuln"
  if [ ! -e "$root/.complete" ]; then
    rm -rf "$root"
    debootstrap --include=openssl,curl,libxml2,python3,perl,openssh-client,git bookworm "$root" http://deb.debian.org/debian >&2
    touch "$root/.complete"
  fi
  cp "$data/debian/vulnerable-rootfs/var/lib/dpkg/status" "$root/var/lib/dpkg/status"
  tar -C "$root" --exclude=./.complete -cf "$work/vuln-rootfs.tar" .
  docker import "$work/vuln-rootfs.tar" bulkhead-bench/debian-vulnerable:latest >/dev/null
  rm -f "$work/vuln-rootfs.tar"
  docker save -o "$img" bulkhead-bench/debian-vulnerable:latest
fi

echo "== correctness"
"$OSV" scan image --offline --archive "$img" --format json >"$work/osv-img.json" 2>/dev/null || true
"$BH" scan "docker-archive:$img" --db "$work/cmp.db" -q -o json --db-max-age 0 --no-cache >"$work/bh-img.json"
python3 - "$work" "$data" <<'PY'
import json, sys
work, data = sys.argv[1], sys.argv[2]
o = json.load(open(f"{work}/osv-img.json"))
osv = {(p["package"]["name"], v["id"].replace("DEBIAN-", "")) for r in o.get("results", []) for p in r.get("packages", []) for v in p.get("vulnerabilities", [])}
b = json.load(open(f"{work}/bh-img.json"))
bh = {(f["matchedName"], f["id"]) for f in b["findings"]}
per_bin = {(f["packageName"], f["id"]) for f in b["findings"]}
exp = json.load(open(f"{data}/debian/expected.json"))
want = {(n, x["cve"]) for n, p in exp["packages"].items() for x in p["findings"]}
print(f"debian image: osv-scanner {len(osv)} (source, CVE) pairs, bulkhead {len(bh)}; identical: {osv == bh}")
print(f"debian image: bulkhead per binary package {len(per_bin)}, expected.json {len(want)}; identical: {per_bin == want}")
PY
for d in "$data"/lockfiles/*/*/; do
  n=$(basename "$(dirname "$d")")/$(basename "$d")
  "$OSV" scan source --offline -r "$d" --format json >"$work/osv-lock.json" 2>/dev/null || true
  "$BH" scan "dir:$d" --db "$work/cmp.db" -q -o json --db-max-age 0 >"$work/bh-lock.json"
  python3 - "$work" "$n" <<'PY'
import json, sys
work, n = sys.argv[1], sys.argv[2]
o = json.load(open(f"{work}/osv-lock.json"))
osv = {}
for r in o.get("results", []):
    if r["source"]["path"].endswith((".json",)) and "syft" in r["source"]["path"]:
        continue  # osv-scanner also reads the Syft SBOMs kept beside the lockfiles
    for p in r.get("packages", []):
        for v in p.get("vulnerabilities", []):
            osv.setdefault((p["package"]["name"], p["package"]["version"].lstrip("v")), set()).add(v["id"])
b = json.load(open(f"{work}/bh-lock.json"))
bh = {}
for f in b["findings"]:
    bh.setdefault((f["packageName"], f["installedVersion"].lstrip("v")), set()).update([f["id"]] + (f.get("aliases") or []) + f["sources"])
missing = sorted((k, i) for k, ids in osv.items() for i in ids if i not in bh.get(k, set()))
extra = sorted(k for k, ids in bh.items() if not (ids & osv.get(k, set())))
if osv or bh:
    print(f"{n}: osv-scanner {sum(len(v) for v in osv.values())} findings; not in bulkhead: {missing or 'none'}; bulkhead only: {extra or 'none'}")
PY
done

# A Go binary with vulnerable dependencies, in a FROM-scratch image.
gb="$work/govuln"
if [ ! -s "$gb/img.tar" ]; then
  rm -rf "$gb"; mkdir -p "$gb/src"
  printf 'module example.com/vulnapp\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.0\n' >"$gb/src/go.mod"
  printf 'package main\n\nimport (\n\t"fmt"\n\n\t"golang.org/x/text/language"\n)\n\nfunc main() { fmt.Println(language.English) }\n' >"$gb/src/main.go"
  (cd "$gb/src" && GOFLAGS=-mod=mod go mod tidy && CGO_ENABLED=0 go build -o "$gb/vulnapp" .)
  printf 'FROM scratch\nCOPY vulnapp /usr/local/bin/vulnapp\n' >"$gb/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t bulkhead-bench/govuln:latest "$gb" >/dev/null 2>&1
  docker save -o "$gb/img.tar" bulkhead-bench/govuln:latest
fi
"$OSV" scan image --offline --archive "$gb/img.tar" --format json >"$work/osv-go.json" 2>/dev/null || true
"$BH" scan "docker-archive:$gb/img.tar" --db "$work/cmp.db" -q -o json --db-max-age 0 --no-cache >"$work/bh-go.json"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
o = json.load(open(f"{work}/osv-go.json"))
osv = {(p["package"]["name"], p["package"]["version"].lstrip("v"), v["id"]) for r in o.get("results", []) for p in r.get("packages", []) for v in p.get("vulnerabilities", [])}
b = json.load(open(f"{work}/bh-go.json"))
bh = {(f["packageName"], f["installedVersion"].lstrip("v"), s) for f in b["findings"] for s in f["sources"]}
print(f"go binary: osv-scanner {sorted(osv)}; bulkhead {sorted(bh)}; identical: {osv == bh}")
PY

echo "== speed: scan docker-archive of the Debian vulnerable image ($(du -m "$img" | cut -f1) MB), median of $runs"
measure() {
  local out; out=$(mktemp)
  /usr/bin/time -v -o "$out" "$@" >/dev/null 2>&1 || true
  awk -F': ' '/Elapsed \(wall clock\)/{split($2,t,":"); s=(length(t)==3)?t[1]*3600+t[2]*60+t[3]:t[1]*60+t[2]} /Maximum resident/{m=$2} END{printf "%.3f %d\n", s, m}' "$out"
  rm -f "$out"
}
median() { sort -g | awk '{a[NR]=$1} END{if(NR%2){print a[(NR+1)/2]}else{print (a[NR/2]+a[NR/2+1])/2}}'; }
ow=(); om=(); bw=(); bm=()
for ((i = 1; i <= runs; i++)); do
  read -r s m < <(measure "$OSV" scan image --offline --archive "$img" --format json); ow+=("$s"); om+=("$m")
  read -r s m < <(measure "$BH" scan "docker-archive:$img" --db "$work/cmp.db" -q -o json --db-max-age 0 --no-cache); bw+=("$s"); bm+=("$m")
done
printf '| tool | median wall | median peak RSS |\n|---|---|---|\n'
printf '| osv-scanner 2.6.0 | %s s | %s MB |\n' "$(printf '%s\n' "${ow[@]}" | median)" "$(printf '%s\n' "${om[@]}" | median | awk '{printf "%.0f", $1/1024}')"
printf '| bulkhead | %s s | %s MB |\n' "$(printf '%s\n' "${bw[@]}" | median)" "$(printf '%s\n' "${bm[@]}" | median | awk '{printf "%.0f", $1/1024}')"
