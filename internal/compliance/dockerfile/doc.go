// Package dockerfile reads Dockerfiles for the compliance engine with
// BuildKit's own parser (the one `docker build` uses, so line
// continuations, escape directives and heredocs are read the same way) and
// shapes them into stages and instructions with field paths and lines.
// Each stage also carries what it inherits from a stage it is built FROM:
// the effective USER and HEALTHCHECK. The built-in checks are embedded from
// checks/*.yaml.
//
// Allowed imports: the standard library and
// github.com/moby/buildkit/frontend/dockerfile/parser. This package must
// not import the compliance engine (the engine imports it).
package dockerfile
