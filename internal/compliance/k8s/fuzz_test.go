package k8s

import (
	"os"
	"testing"
)

// FuzzParseManifests: Parse never panics, and every resource it returns
// has a kind and a line table that includes the object itself.
func FuzzParseManifests(f *testing.F) {
	for _, name := range []string{"bad.yaml", "hardened.yaml", "hardened.json", "list.yaml", "helm.yaml"} {
		if data, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, _ := Parse(data)
		for _, r := range rs {
			if r.Kind == "" || r.APIVersion == "" {
				t.Fatalf("resource without kind/apiVersion: %+v", r)
			}
			if _, ok := r.Lines[""]; !ok {
				t.Fatal("no line for the object")
			}
			_ = r.Containers()
		}
	})
}
