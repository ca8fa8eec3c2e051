package docker

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// TestRecordFacts writes this host's facts to $BULKHEAD_RECORD_FACTS: how
// the testdata hosts were made (then trimmed and edited by hand).
func TestRecordFacts(t *testing.T) {
	out := os.Getenv("BULKHEAD_RECORD_FACTS")
	if out == "" {
		t.Skip("BULKHEAD_RECORD_FACTS not set")
	}
	f, err := Collect(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
