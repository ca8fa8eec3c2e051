package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissing runs a test that calls Missing in a child process, with and
// without BULKHEAD_REQUIRE_INTEGRATION: it must skip without, fail with.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Missing(t, "a %s", "prerequisite")
		return
	}
	for _, c := range []struct {
		require string
		wantErr bool
		want    string
	}{
		{"", false, "--- SKIP: TestMissing"},
		{"1", true, "--- FAIL: TestMissing"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "BULKHEAD_REQUIRE_INTEGRATION="+c.require)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.wantErr || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "integration prerequisite missing") || !strings.Contains(string(out), "a prerequisite") {
			t.Errorf("BULKHEAD_REQUIRE_INTEGRATION=%q: err %v, output:\n%s", c.require, err, out)
		}
	}
}
