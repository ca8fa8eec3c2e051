//go:build !linux

package sensor

import "errors"

// ProcConnector is Linux-only.
type ProcConnector struct{}

// OpenProcConnector fails outside Linux.
func OpenProcConnector() (*ProcConnector, error) {
	return nil, errors.New("proc connector: Linux only")
}

func (p *ProcConnector) Read() (RawEvent, error) { return RawEvent{}, ErrConnectorClosed }
func (p *ProcConnector) Overflows() uint64       { return 0 }
func (p *ProcConnector) Close() error            { return nil }

// ErrConnectorClosed is returned by Read after Close.
var ErrConnectorClosed = errors.New("proc connector closed")
