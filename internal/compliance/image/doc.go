// Package image checks a container image: its configuration (user,
// HEALTHCHECK, secrets in ENV and labels, ADD from URLs and piped
// downloads in its history, risky exposed ports), its file system
// (setuid/setgid and world-writable files, package manager caches, SSH
// servers) and secrets in every layer, including files a later layer
// deleted (they stay in the image and are reported with their layer).
//
// Images come from internal/source (every target `bulkhead sbom`
// accepts); each layer's tar is read once, in one pass that records file
// modes and whiteouts and scans small text files for secrets
// (internal/compliance/secrets). The findings are shaped into one
// compliance resource that the checks in checks/*.yaml evaluate.
//
// Allowed imports: the standard library, internal/compliance (and its
// secrets package), internal/source, internal/sbom, the Docker Engine API
// client and go-containerregistry.
package image
