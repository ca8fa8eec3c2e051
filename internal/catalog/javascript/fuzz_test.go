package javascript

import (
	"bytes"
	"testing"
)

// The fuzz targets check that no input panics; errors are expected.

func FuzzParsePackageLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parsePackageLock(bytes.NewReader(b)) })
}

func FuzzParseYarnLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseYarnLock(bytes.NewReader(b)) })
}

func FuzzParsePnpmLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parsePnpmLock(bytes.NewReader(b)) })
}

func FuzzParsePackageJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = parsePackageJSON(bytes.NewReader(b)) })
}
