package dockerfile

import (
	"embed"
	"strings"
)

// Checks holds the built-in Dockerfile checks, checks/*.yaml.
//
//go:embed checks/*.yaml
var Checks embed.FS

// IsDockerfileName reports whether a file name looks like a Dockerfile:
// Dockerfile, Containerfile, Dockerfile.prod, app.Dockerfile.
func IsDockerfileName(base string) bool {
	l := strings.ToLower(base)
	for _, n := range []string{"dockerfile", "containerfile"} {
		if l == n || strings.HasPrefix(l, n+".") || strings.HasSuffix(l, "."+n) {
			return true
		}
	}
	return false
}
