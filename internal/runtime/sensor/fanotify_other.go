//go:build !linux

package sensor

import "errors"

// Fallback is Linux-only.
type Fallback struct{}

// OpenFallback fails outside Linux.
func OpenFallback() (*Fallback, error, error) {
	return nil, nil, errors.New("sensor fallback: Linux only")
}

func (f *Fallback) Read() (RawEvent, error) { return RawEvent{}, ErrConnectorClosed }
func (f *Fallback) FileEvents() bool        { return false }
func (f *Fallback) Overflows() uint64       { return 0 }
func (f *Fallback) Close() error            { return nil }
