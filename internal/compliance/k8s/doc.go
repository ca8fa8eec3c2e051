// Package k8s reads Kubernetes manifests for the compliance engine: YAML
// streams of many documents, JSON, `kind: List` objects and Helm-rendered
// output with "# Source:" comments. Each object becomes a Resource: the
// object as plain maps and lists (what CEL evaluates), a table from field
// path to line, and, for pod-bearing kinds, the pod spec and its
// containers with their paths. The built-in checks are embedded from
// checks/*.yaml.
//
// Allowed imports: the standard library and gopkg.in/yaml.v3. This package
// must not import the compliance engine (the engine imports it); its tests
// may.
package k8s
