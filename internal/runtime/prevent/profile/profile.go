// Package profile holds container baseline profiles: the executables,
// files, outbound connections and listening ports a container normally
// uses, learnt in mode learn and compared against in modes monitor and
// protect. Profiles are JSON files in one directory, keyed by the policy's
// selector name and the container's image.
//
// Allowed imports: the standard library only.
package profile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits on hostile or runaway input.
const (
	MaxFileSize = 16 << 20 // one profile file
	MaxEntries  = 8192     // per set; learning stops adding beyond it
	MaxItemLen  = 4096     // one path or address
)

// Version of the JSON format.
const Version = 1

// Key identifies a profile.
type Key struct {
	Selector string `json:"selector"`
	Image    string `json:"image"`
}

// FileName is the profile's file name in the store: readable parts plus a
// hash of the exact key, so distinct keys never collide.
func (k Key) FileName() string {
	sum := sha256.Sum256([]byte(k.Selector + "\x00" + k.Image))
	return sanitize(k.Selector) + "_" + sanitize(k.Image) + "_" + hex.EncodeToString(sum[:6]) + ".json"
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 48 {
			break
		}
	}
	return b.String()
}

// File is the JSON form. Files entries ending in "/" stand for everything
// below that directory; a "*" path segment stands for any one segment
// (process ids under /proc).
type File struct {
	Version     int       `json:"version"`
	Key         Key       `json:"key"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Executables []string  `json:"executables"`
	Files       []string  `json:"files"`
	Connections []string  `json:"connections"`
	Listen      []string  `json:"listen"`
}

// Baseline is a profile in memory. It is safe for concurrent use.
type Baseline struct {
	mu       sync.RWMutex
	key      Key
	created  time.Time
	updated  time.Time
	exe      map[string]struct{}
	files    map[string]struct{}
	conns    map[string]struct{}
	listen   map[string]struct{}
	collapse int
	dirty    bool
	full     bool
	gen      uint64 // bumped by every change; Save clears dirty only if unchanged
}

// New returns an empty baseline. collapse is the number of files learnt in
// one directory beyond which they are replaced by the directory.
func New(k Key, collapse int, now time.Time) *Baseline {
	if collapse <= 0 {
		collapse = 16
	}
	return &Baseline{key: k, created: now, updated: now, collapse: collapse,
		exe: map[string]struct{}{}, files: map[string]struct{}{}, conns: map[string]struct{}{}, listen: map[string]struct{}{}}
}

// Key returns the profile's key.
func (b *Baseline) Key() Key { return b.key }

// Created is when learning began.
func (b *Baseline) Created() time.Time {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.created
}

// Dirty reports unsaved changes.
func (b *Baseline) Dirty() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.dirty
}

// Full reports that a set reached MaxEntries and learning dropped items.
func (b *Baseline) Full() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.full
}

func (b *Baseline) add(set map[string]struct{}, item string) bool {
	if item == "" || len(item) > MaxItemLen {
		return false
	}
	if _, ok := set[item]; ok {
		return false
	}
	if len(set) >= MaxEntries {
		b.full = true
		return false
	}
	set[item] = struct{}{}
	b.dirty = true
	b.gen++
	b.updated = time.Now()
	return true
}

// AddExec records an executable path; it reports whether it was new.
func (b *Baseline) AddExec(p string) bool {
	// "/" or a directory is never an executable (a sensor may report one
	// for a process whose executable it could not resolve).
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.add(b.exe, path.Clean(p))
}

// HasExec reports whether p is a learnt executable.
func (b *Baseline) HasExec(p string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.exe[path.Clean(p)]
	return ok
}

// Executables returns the learnt executables, sorted.
func (b *Baseline) Executables() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return sortedKeys(b.exe)
}

// NormalizePath cleans p and replaces the process id under /proc with
// "*", so /proc/1234/status and /proc/99/status are one entry.
func NormalizePath(p string) string {
	p = path.Clean(p)
	if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
		seg, tail, _ := strings.Cut(rest, "/")
		if _, err := strconv.Atoi(seg); err == nil {
			p = "/proc/*"
			if tail != "" {
				p += "/" + normalizeTask(tail)
			}
		}
	}
	return p
}

func normalizeTask(tail string) string {
	if rest, ok := strings.CutPrefix(tail, "task/"); ok {
		seg, t, _ := strings.Cut(rest, "/")
		if _, err := strconv.Atoi(seg); err == nil {
			if t == "" {
				return "task/*"
			}
			return "task/*/" + t
		}
	}
	return tail
}

// AddFile records an opened file. When its directory then holds more
// entries than the collapse threshold, they become the directory. It
// reports whether the baseline changed.
func (b *Baseline) AddFile(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	p = NormalizePath(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hasFileLocked(p) {
		return false
	}
	if !b.add(b.files, p) {
		return false
	}
	dir := path.Dir(p)
	if dir == "/" {
		return true
	}
	var siblings []string
	for f := range b.files {
		if !strings.HasSuffix(f, "/") && path.Dir(f) == dir {
			siblings = append(siblings, f)
		}
	}
	if len(siblings) > b.collapse {
		for _, f := range siblings {
			delete(b.files, f)
		}
		// Entries deeper below dir are covered now.
		for f := range b.files {
			if strings.HasPrefix(f, dir+"/") {
				delete(b.files, f)
			}
		}
		b.files[dir+"/"] = struct{}{}
		b.gen++
	}
	return true
}

// HasFile reports whether p (normalised) is learnt or lies below a learnt
// directory.
func (b *Baseline) HasFile(p string) bool {
	p = NormalizePath(p)
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.hasFileLocked(p)
}

// hasFileLocked: p itself, or a directory entry ("dir/") above it. "/" is
// only ever an exact entry (an open of the root directory); learning never
// collapses to it, so it covers nothing below.
func (b *Baseline) hasFileLocked(p string) bool {
	if _, ok := b.files[p]; ok {
		return true
	}
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		if _, ok := b.files[d+"/"]; ok {
			return true
		}
	}
	return false
}

// Endpoint renders ip:port/proto ("10.0.0.1:443/tcp", "[::1]:53/udp").
// An empty ip is "*".
func Endpoint(ip string, port int64, proto string) string {
	if ip == "" {
		ip = "*"
	}
	if proto == "" {
		proto = "tcp"
	}
	return net.JoinHostPort(ip, strconv.FormatInt(port, 10)) + "/" + strings.ToLower(proto)
}

// AddConnection records an outbound connection.
func (b *Baseline) AddConnection(ip string, port int64, proto string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.add(b.conns, Endpoint(ip, port, proto))
}

// HasConnection reports whether the connection is learnt; entries may use
// "*" for the address ("*:443/tcp").
func (b *Baseline) HasConnection(ip string, port int64, proto string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if _, ok := b.conns[Endpoint(ip, port, proto)]; ok {
		return true
	}
	_, ok := b.conns[Endpoint("*", port, proto)]
	return ok
}

// AddListen records a listening port.
func (b *Baseline) AddListen(port int64, proto string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.add(b.listen, listenKey(port, proto))
}

// HasListen reports whether the listening port is learnt.
func (b *Baseline) HasListen(port int64, proto string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.listen[listenKey(port, proto)]
	return ok
}

func listenKey(port int64, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	return strconv.FormatInt(port, 10) + "/" + strings.ToLower(proto)
}

// File returns the JSON form, sets sorted.
func (b *Baseline) File() File {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return File{Version: Version, Key: b.key, Created: b.created.UTC(), Updated: b.updated.UTC(),
		Executables: sortedKeys(b.exe), Files: sortedKeys(b.files),
		Connections: sortedKeys(b.conns), Listen: sortedKeys(b.listen)}
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FromFile builds a baseline from its JSON form, validating every entry.
func FromFile(f File, collapse int) (*Baseline, error) {
	if f.Version != Version {
		return nil, fmt.Errorf("profile version %d not supported (want %d)", f.Version, Version)
	}
	b := New(f.Key, collapse, f.Created)
	b.updated = f.Updated
	sets := []struct {
		name  string
		items []string
		set   map[string]struct{}
		check func(string) error
	}{
		{"executables", f.Executables, b.exe, absPath},
		{"files", f.Files, b.files, absPath},
		{"connections", f.Connections, b.conns, checkEndpoint},
		{"listen", f.Listen, b.listen, checkListen},
	}
	for _, s := range sets {
		if len(s.items) > MaxEntries {
			return nil, fmt.Errorf("%s: %d entries, more than %d", s.name, len(s.items), MaxEntries)
		}
		for _, it := range s.items {
			if len(it) > MaxItemLen {
				return nil, fmt.Errorf("%s: entry longer than %d bytes", s.name, MaxItemLen)
			}
			if err := s.check(it); err != nil {
				return nil, fmt.Errorf("%s: %q: %w", s.name, it, err)
			}
			s.set[it] = struct{}{}
		}
	}
	return b, nil
}

func absPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New("not an absolute path")
	}
	return nil
}

func checkEndpoint(e string) error {
	hp, proto, ok := strings.Cut(e, "/")
	if !ok || proto == "" {
		return errors.New("want ip:port/proto")
	}
	_, port, err := net.SplitHostPort(hp)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	return nil
}

func checkListen(e string) error {
	port, proto, ok := strings.Cut(e, "/")
	if !ok || proto == "" {
		return errors.New("want port/proto")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	return nil
}

// Parse reads one profile file's JSON.
func Parse(r io.Reader, collapse int) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("profile larger than %d bytes", MaxFileSize)
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return FromFile(f, collapse)
}

// Store is a directory of profiles.
type Store struct {
	Dir      string
	Collapse int
}

// Load reads the profile for k; the error wraps os.ErrNotExist when there
// is none.
func (s Store) Load(k Key) (*Baseline, error) {
	p := filepath.Join(s.Dir, k.FileName())
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := Parse(f, s.Collapse)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if b.key != k {
		return nil, fmt.Errorf("%s: holds the profile of %+v, not %+v", p, b.key, k)
	}
	return b, nil
}

// Save writes the profile atomically (temporary file and rename) and
// clears its dirty flag.
func (s Store) Save(b *Baseline) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return err
	}
	b.mu.RLock()
	gen := b.gen
	b.mu.RUnlock()
	data, err := json.MarshalIndent(b.File(), "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".profile-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.Dir, b.key.FileName())); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	b.mu.Lock()
	if b.gen == gen {
		b.dirty = false
	}
	b.mu.Unlock()
	return nil
}
