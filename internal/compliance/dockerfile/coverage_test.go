package dockerfile_test

import (
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/dockerfile"
)

// TestEveryCheckPassesAndFails walks the embedded checks: each needs a
// case in checkCases where it passes and one where it fails.
func TestEveryCheckPassesAndFails(t *testing.T) {
	cs, err := compliance.LoadFS(dockerfile.Checks, "checks")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		var p, f bool
		for _, cc := range checkCases {
			if cc.check == c.ID {
				p = p || cc.status == compliance.StatusPass
				f = f || cc.status == compliance.StatusFail || cc.status == compliance.StatusWarn
			}
		}
		if !p || !f {
			t.Errorf("%s: passing case %v, failing case %v", c.ID, p, f)
		}
	}
}
