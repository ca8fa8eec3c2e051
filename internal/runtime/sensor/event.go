package sensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Record layout of struct event in bpf/sensor.bpf.c (little endian).
const (
	recSize     = 640
	recExecSize = recSize + 1024
	offComm     = 112
	offStr0     = 128
	offStr1     = 384
)

// Flags set by the kernel program.
const (
	flagExeMemfd = 1 << 0
	// flagPathResolved: Str1 is Str0 made absolute by the kernel (from the
	// directory fd or the working directory, as the task sees them).
	flagPathResolved = 1 << 1
)

// RawEvent is one decoded ring-buffer record, before enrichment.
type RawEvent struct {
	BootNS   uint64 // CLOCK_BOOTTIME
	CgroupID uint64
	Args     [6]uint64
	Ret      int64
	Type     uint32
	Pid      uint32 // thread-group id
	Tid      uint32
	Ppid     uint32
	Uid, Gid uint32
	Tty      uint32
	Flags    uint32
	Comm     string
	Str0     string
	// Str1 is the second path, the executable's file name for execs, or a
	// raw sockaddr (Addr) for socket calls.
	Str1 string
	Argv []string
}

var errShort = errors.New("short record")

// DecodeRecord parses one record. It copies what it keeps, so rec may be
// reused by the caller. The kernel sends only the used part of a syscall
// record (the header and str0, or up to the end of str1), so a record may
// be shorter than recSize; an exec record is always complete.
func DecodeRecord(rec []byte) (RawEvent, error) {
	if len(rec) < offStr0 {
		return RawEvent{}, fmt.Errorf("%w: %d bytes, want at least %d", errShort, len(rec), offStr0)
	}
	le := binary.LittleEndian
	var e RawEvent
	e.BootNS = le.Uint64(rec[0:])
	e.CgroupID = le.Uint64(rec[8:])
	for i := range e.Args {
		e.Args[i] = le.Uint64(rec[16+8*i:])
	}
	e.Ret = int64(le.Uint64(rec[64:]))
	e.Type = le.Uint32(rec[72:])
	e.Pid = le.Uint32(rec[76:])
	e.Tid = le.Uint32(rec[80:])
	e.Ppid = le.Uint32(rec[84:])
	e.Uid = le.Uint32(rec[88:])
	e.Gid = le.Uint32(rec[92:])
	e.Tty = le.Uint32(rec[96:])
	e.Flags = le.Uint32(rec[100:])
	len0 := int(le.Uint16(rec[104:]))
	len1 := int(le.Uint16(rec[106:]))
	argvLen := int(le.Uint32(rec[108:]))
	e.Comm = cstring(rec[offComm : offComm+16])
	e.Str0 = cstring(field(rec, offStr0, len0))
	if isSockCall(e.Type) {
		e.Str1 = string(field(rec, offStr1, len1))
	} else {
		e.Str1 = cstring(field(rec, offStr1, len1))
	}
	if e.Type == typeExec {
		if len(rec) < recExecSize {
			return RawEvent{}, fmt.Errorf("%w: exec record of %d bytes, want %d", errShort, len(rec), recExecSize)
		}
		e.Argv = splitArgv(rec[recSize : recSize+min(argvLen, 1024)])
	}
	return e, nil
}

// field returns the n bytes of a 256-byte string field at off, cut to what
// the record holds.
func field(rec []byte, off, n int) []byte {
	end := min(off+min(n, 256), len(rec))
	if end <= off {
		return nil
	}
	return rec[off:end]
}

func isSockCall(t uint32) bool {
	switch t {
	case 42, 43, 288, 49:
		return true
	}
	return false
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// splitArgv splits the NUL-separated argument area of a process. A
// truncated last argument is kept as is.
func splitArgv(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// SockAddr is a decoded socket address.
type SockAddr struct {
	Family string // "ip" or "unix"
	Addr   netip.Addr
	Port   uint16
	Path   string // unix sockets
}

// parseSockaddr decodes struct sockaddr_in, sockaddr_in6 and sockaddr_un.
func parseSockaddr(b []byte) (SockAddr, bool) {
	if len(b) < 2 {
		return SockAddr{}, false
	}
	switch binary.LittleEndian.Uint16(b) {
	case 2: // AF_INET
		if len(b) < 8 {
			return SockAddr{}, false
		}
		return SockAddr{Family: "ip", Port: binary.BigEndian.Uint16(b[2:]), Addr: netip.AddrFrom4([4]byte(b[4:8]))}, true
	case 10: // AF_INET6
		if len(b) < 24 {
			return SockAddr{}, false
		}
		return SockAddr{Family: "ip", Port: binary.BigEndian.Uint16(b[2:]), Addr: netip.AddrFrom16([16]byte(b[8:24])).Unmap()}, true
	case 1: // AF_UNIX
		p := b[2:]
		if len(p) > 0 && p[0] == 0 { // abstract
			return SockAddr{Family: "unix", Path: "@" + cstring(p[1:])}, true
		}
		return SockAddr{Family: "unix", Path: cstring(p)}, true
	}
	return SockAddr{}, false
}
