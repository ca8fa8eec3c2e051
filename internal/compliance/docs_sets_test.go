package compliance_test

import (
	"os"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/docker"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/image"
)

// TestDocsListDockerAndImageChecks keeps docs/compliance.md's tables in
// step with the docker and image check sets.
func TestDocsListDockerAndImageChecks(t *testing.T) {
	doc, err := os.ReadFile("../../docs/compliance.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	for _, set := range []func() ([]compliance.Check, error){docker.BuiltinChecks, image.BuiltinChecks} {
		cs, err := set()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if !strings.Contains(string(doc), "| "+c.ID+" | "+c.Title+" |") {
				t.Errorf("docs/compliance.md does not list %s (%s)", c.ID, c.Title)
			}
		}
	}
}
