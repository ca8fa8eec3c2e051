//go:build !(linux && amd64)

package sensor

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrUnavailable reports that the eBPF sensor cannot run here.
var ErrUnavailable = errors.New("eBPF sensor unavailable")

// Options configure Open.
type Options struct {
	Syscalls          []string
	OpenPrefixes      []string
	DropRelativeOpens bool
	IncludeSelf       bool
}

// MaxOpenPrefixes is how many prefixes the kernel filter holds.
const MaxOpenPrefixes = 16

// Sensor is unavailable on this platform.
type Sensor struct{}

// Counters are the kernel-side counters.
type Counters struct{ Events, Filtered, FilteredCached, Lost uint64 }

// Open always fails here: the programs and syscall table are for linux/amd64.
func Open(Options) (*Sensor, error) {
	return nil, fmt.Errorf("%w: built for linux/amd64 only, this is %s/%s", ErrUnavailable, runtime.GOOS, runtime.GOARCH)
}

func (s *Sensor) Attached() []string          { return nil }
func (s *Sensor) Missing() []string           { return nil }
func (s *Sensor) Read() (RawEvent, error)     { return RawEvent{}, ErrUnavailable }
func (s *Sensor) Counters() (Counters, error) { return Counters{}, ErrUnavailable }
func (s *Sensor) Close() error                { return nil }
func IsClosed(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnectorClosed)
}

func bootOffset() int64 { return 0 }
