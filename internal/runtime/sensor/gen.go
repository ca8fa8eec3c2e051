package sensor

// The eBPF objects are generated with cilium/ebpf's bpf2go and committed
// (sensor_x86_bpfel.go and .o). Regenerate with clang from Debian's packages
// (clang, llvm, libbpf-dev, linux-libc-dev):
//
//	go generate ./internal/runtime/sensor/
//
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -I/usr/include/x86_64-linux-gnu" sensor bpf/sensor.bpf.c
