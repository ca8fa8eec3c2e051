#!/usr/bin/env bash
# The whole test suite: static checks, unit tests, and the integration tests
# that use the real Docker Engine, a debootstrap root filesystem, a local OCI
# registry and a freshly built Go binary. Run from the repository root:
#   scripts/test.sh
# Integration prerequisites are prepared by scripts/test-env.sh; with
# BULKHEAD_REQUIRE_INTEGRATION=1 (set by .ci/run) a missing prerequisite fails
# the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/test-env.sh)"
export BULKHEAD_REQUIRE_INTEGRATION=${BULKHEAD_REQUIRE_INTEGRATION:-}

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 30m ./... 2>&1 | tee /tmp/bulkhead-test.log
