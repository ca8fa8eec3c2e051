package compliance

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryCheck keeps docs/compliance.md's table in step with the
// embedded checks.
func TestDocsListEveryCheck(t *testing.T) {
	doc, err := os.ReadFile("../../docs/compliance.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	cs, err := BuiltinChecks()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if !strings.Contains(string(doc), "| "+c.ID+" | "+c.Title+" |") {
			t.Errorf("docs/compliance.md does not list %s (%s)", c.ID, c.Title)
		}
	}
}
