// Package docker checks a live Docker host against the CIS Docker
// Benchmark (v1.6 numbering): host configuration, daemon configuration,
// daemon files and permissions, images in use, every running container,
// and the security-operations controls that can be automated.
//
// Collection and evaluation are separate: Collect gathers raw facts (the
// Engine API's container and image inspect JSON and docker info, the
// daemon's command line from /proc, daemon.json, stat of the daemon's
// files, audit rules, mounts) into a Facts value; Resources shapes Facts
// into compliance resources that the checks in checks/*.yaml evaluate.
// Facts marshal to JSON, so tests evaluate the checks on recorded hosts.
//
// Allowed imports: the standard library, internal/compliance and the
// Docker Engine API client.
package docker
