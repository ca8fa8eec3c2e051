// Package sensor is Bulkhead's runtime eBPF sensor: the C programs under
// bpf/ (compiled with bpf2go, generated objects committed), the loader that
// attaches them to tracepoints, the decoder of ring-buffer records, the
// user-space process tree and the container resolver (cgroup id → Docker
// container, image, labels). Events it produces implement rules.Event, so the
// rule engine evaluates them unchanged.
//
// Allowed imports: the standard library, cilium/ebpf, x/sys, the moby client
// (container metadata) and internal/runtime/rules (the Event interface it
// feeds). It must not import the CLI or prevention packages: responses are
// wired by the caller through Pipeline's handler.
package sensor
