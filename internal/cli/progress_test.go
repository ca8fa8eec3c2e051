package cli

import (
	"bytes"
	"os"
	"testing"
)

// The progress line is for people at a terminal: never drawn into a pipe,
// a file or with -q.
func TestProgressOnlyOnTerminals(t *testing.T) {
	if p := newProgress(&bytes.Buffer{}, false); p != nil {
		t.Error("progress drawn into a buffer")
	}
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if p := newProgress(f, false); p != nil {
		t.Error("progress drawn into a regular file")
	}
	if p := newProgress(os.Stderr, true); p != nil {
		t.Error("progress drawn despite -q")
	}
}
