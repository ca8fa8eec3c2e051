package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes what the tests left in the temporary directory: the
// shared layer cache and the saved Debian image.
func TestMain(m *testing.M) {
	code := m.Run()
	if cachePath != "" {
		os.RemoveAll(cachePath)
	}
	if debArchive != "" {
		os.RemoveAll(filepath.Dir(debArchive))
	}
	os.Exit(code)
}
