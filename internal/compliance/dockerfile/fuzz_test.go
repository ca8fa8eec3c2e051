package dockerfile

import (
	"os"
	"testing"
)

// FuzzParseDockerfile: Parse never panics, and every instruction it
// returns has a path with a line.
func FuzzParseDockerfile(f *testing.F) {
	for _, name := range []string{"good.Dockerfile", "bad.Dockerfile", "cache.Dockerfile"} {
		if data, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := Parse(data)
		if err != nil {
			return
		}
		for _, st := range df.Stages {
			for _, in := range st.Instructions {
				if _, ok := df.Lines[in.Path]; !ok {
					t.Fatalf("instruction %s has no line", in.Path)
				}
				_ = in.Command()
			}
		}
	})
}
