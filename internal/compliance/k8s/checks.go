package k8s

import "embed"

// Checks holds the built-in Kubernetes checks, checks/*.yaml.
//
//go:embed checks/*.yaml
var Checks embed.FS
