// Package testenv holds the project's one rule for integration tests whose
// prerequisites (root, a Docker Engine, kernel BTF, PostgreSQL, the
// debootstrapped root filesystem) may be missing: without them a test
// skips and names what is missing; with BULKHEAD_REQUIRE_INTEGRATION set
// (as .ci/run sets it) it fails instead, so CI never reports a skipped
// check as passing. scripts/test-env.sh prepares the prerequisites.
package testenv

import (
	"os"
	"testing"
)

// Missing skips t, or fails it under BULKHEAD_REQUIRE_INTEGRATION, naming
// the missing prerequisite.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("BULKHEAD_REQUIRE_INTEGRATION") != "" {
		t.Fatalf("integration prerequisite missing: "+format, args...)
	}
	t.Skipf("integration prerequisite missing (run scripts/test.sh to prepare): "+format, args...)
}
