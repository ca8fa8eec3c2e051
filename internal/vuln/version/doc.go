// Package version compares package versions the way each ecosystem orders
// them and evaluates OSV affected ranges against an installed version. The
// vulnerability matcher uses it to decide whether a package found in a
// target falls inside an advisory's affected ranges.
//
// ForEcosystem maps an OSV ecosystem name ("Debian:12", "PyPI", "Maven", ...)
// to a Comparer; Affected applies the OSV range evaluation algorithm with
// that Comparer. Every ordering comes from a library written for that
// ecosystem (the ones Trivy uses) except NuGet and Packagist, which are
// implemented here from their documented algorithms, and Pub, which adds
// pub_semver's build ordering on top of SemVer.
//
// Invalid versions are reported as errors that wrap ErrInvalidVersion and
// name the version and ecosystem; no input makes a Comparer panic.
//
// The package imports only the standard library, golang.org/x/mod and the
// per-ecosystem version libraries (imports_test.go pins the list). It must
// not import Bulkhead's other packages: it sits below the matcher and knows
// nothing about SBOMs or advisory stores.
package version
