#!/usr/bin/env bash
# Recall check against Syft 1.57.1 on the debootstrap rootfs (dir:) and its
# docker-save archive: prints every package (name, version) one tool reports
# in Bulkhead's ecosystems and the other does not. Exits non-zero when Syft
# reports a package Bulkhead misses.
#   bench/recall.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-/var/tmp/bulkhead-bench}
mkdir -p "$work"
eval "$(scripts/test-env.sh)"
: "${BULKHEAD_TEST_ROOTFS:?scripts/test-env.sh could not make the rootfs}"
export SYFT_CHECK_FOR_APP_UPDATE=false
gobin=$(go env GOPATH)/bin
[ -x "$gobin/syft" ] || go install github.com/anchore/syft/cmd/syft@v1.57.1
go build -o "$work/bulkhead" ./cmd/bulkhead
archive="$work/bookworm.tar"
if [ ! -s "$archive" ]; then
  tar -C "$BULKHEAD_TEST_ROOTFS" --exclude=./.complete -cf "$work/rootfs.tar" .
  docker import "$work/rootfs.tar" bulkhead-bench/bookworm:latest >/dev/null
  rm -f "$work/rootfs.tar"
  docker save -o "$archive" bulkhead-bench/bookworm:latest
fi
status=0
for target in "dir:$BULKHEAD_TEST_ROOTFS" "docker-archive:$archive"; do
  echo "== $target"
  "$gobin/syft" scan "$target" -q -o syft-json="$work/syft.json"
  "$work/bulkhead" sbom "$target" -q --no-cache -o json --output-file "$work/bulkhead.json"
  go run ./bench/recall -syft "$work/syft.json" -bulkhead "$work/bulkhead.json" || status=1
done
exit $status
