// Package compliance evaluates misconfiguration checks against Kubernetes
// manifests and Dockerfiles, and is the engine the live-host checks
// (internal/compliance/docker) and image checks (internal/compliance/image)
// run on: they shape their facts into Resources and call EvaluateAll.
//
// A check is data: an id, a severity, the benchmark control it implements
// and a CEL expression evaluated once per resource. Built-in checks are
// embedded YAML files (k8s/checks, dockerfile/checks); users add their own
// from a directory and disable or re-rate checks by id with a config file.
// Every expression is compiled once, when the Engine is built.
//
// The format-specific packages (k8s, dockerfile) only parse and shape data;
// this package owns the engine, the results and the walk over paths, so the
// dependency points one way: compliance → k8s, dockerfile.
//
// Allowed imports: the standard library, internal/sbom (core types),
// internal/compliance/k8s, internal/compliance/dockerfile, cel.dev/cel-go
// and gopkg.in/yaml.v3. It must not import sources, catalogers, the matcher,
// the runtime tree, the server or cmd/ (import_test.go pins this).
package compliance
