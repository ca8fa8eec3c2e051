package python

import (
	"bytes"
	"testing"
)

// The fuzz targets check that no input panics; errors are expected.

func FuzzParseRequirements(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseRequirements(bytes.NewReader(b)) })
}

func FuzzParsePoetryLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parsePoetryLock(bytes.NewReader(b)) })
}

func FuzzParsePipfileLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parsePipfileLock(bytes.NewReader(b)) })
}

func FuzzParseUVLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseUVLock(bytes.NewReader(b)) })
}

func FuzzParseMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = parseMetadata(bytes.NewReader(b)) })
}

func FuzzParseRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		files, _ := parseRecord(bytes.NewReader(b), "/usr/lib/python3/dist-packages")
		for _, p := range files {
			if p == "" || p[0] != '/' {
				t.Fatalf("not absolute: %q", p)
			}
		}
	})
}
