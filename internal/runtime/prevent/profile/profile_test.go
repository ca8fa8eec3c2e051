package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNormalizePath(t *testing.T) {
	cases := map[string]string{
		"/proc/1234/status":         "/proc/*/status",
		"/proc/1234":                "/proc/*",
		"/proc/1/task/17/comm":      "/proc/*/task/*/comm",
		"/proc/self/status":         "/proc/self/status",
		"/proc/sys/kernel/hostname": "/proc/sys/kernel/hostname",
		"/etc//passwd":              "/etc/passwd",
		"/etc/./x/../hosts":         "/etc/hosts",
	}
	for in, want := range cases {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLearnAndDiff(t *testing.T) {
	b := New(Key{Selector: "web", Image: "web:1"}, 3, time.Now())
	for _, e := range []string{"/bin/busybox", "/usr/sbin/nginx", "/usr/sbin/nginx", "relative"} {
		b.AddExec(e)
	}
	if got := b.Executables(); !reflect.DeepEqual(got, []string{"/bin/busybox", "/usr/sbin/nginx"}) {
		t.Errorf("executables %v", got)
	}
	if !b.HasExec("/usr/sbin/nginx") || b.HasExec("/bin/nc") {
		t.Error("HasExec")
	}
	b.AddFile("/proc/77/status")
	if !b.HasFile("/proc/12345/status") || b.HasFile("/proc/1/environ") {
		t.Error("pid-normalised /proc paths")
	}
	b.AddConnection("10.0.0.1", 443, "TCP")
	b.AddConnection("", 53, "udp")
	if !b.HasConnection("10.0.0.1", 443, "tcp") || b.HasConnection("10.0.0.2", 443, "tcp") {
		t.Error("exact connection")
	}
	if !b.HasConnection("8.8.8.8", 53, "udp") {
		t.Error("wildcard address entry")
	}
	b.AddListen(8080, "")
	if !b.HasListen(8080, "tcp") || b.HasListen(22, "tcp") {
		t.Error("listen")
	}
	f := b.File()
	if !reflect.DeepEqual(f.Connections, []string{"*:53/udp", "10.0.0.1:443/tcp"}) || !reflect.DeepEqual(f.Listen, []string{"8080/tcp"}) {
		t.Errorf("file form %+v", f)
	}
}

func TestCollapse(t *testing.T) {
	b := New(Key{Selector: "s", Image: "i"}, 3, time.Now())
	b.AddFile("/var/cache/app/sub/x")
	for i := range 3 {
		b.AddFile(fmt.Sprintf("/var/cache/app/f%d", i))
	}
	if got := b.File().Files; len(got) != 4 {
		t.Fatalf("before threshold: %v", got)
	}
	b.AddFile("/var/cache/app/f3") // 4 > 3: collapse
	got := b.File().Files
	if !reflect.DeepEqual(got, []string{"/var/cache/app/"}) {
		t.Fatalf("after threshold: %v", got)
	}
	if !b.HasFile("/var/cache/app/new") || !b.HasFile("/var/cache/app/sub/deeper/y") || b.HasFile("/var/cache/other") {
		t.Error("directory entry coverage")
	}
	if b.AddFile("/var/cache/app/f9") {
		t.Error("a covered file changed the baseline")
	}
	// An open of "/" itself is an exact entry, not everything.
	root := New(Key{}, 16, time.Now())
	root.AddFile("/")
	if !root.HasFile("/") || root.HasFile("/etc/shadow") {
		t.Error(`"/" entry covers files below it`)
	}
	if root.AddExec("/") || root.AddExec("/usr/bin/") {
		t.Error("a directory learnt as an executable")
	}
	// Files directly under / never collapse to "/".
	r := New(Key{}, 1, time.Now())
	r.AddFile("/a")
	r.AddFile("/b")
	r.AddFile("/c")
	if r.HasFile("/d") {
		t.Error("root collapsed")
	}
}

func TestMaxEntries(t *testing.T) {
	b := New(Key{}, 1<<20, time.Now())
	for i := range MaxEntries + 5 {
		b.AddExec(fmt.Sprintf("/bin/x%d", i))
	}
	if n := len(b.Executables()); n != MaxEntries || !b.Full() {
		t.Errorf("%d entries, full=%v", n, b.Full())
	}
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := Store{Dir: dir, Collapse: 4}
	k := Key{Selector: "web", Image: "registry.example.com/web:1.2"}
	if _, err := s.Load(k); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing profile: %v", err)
	}
	b := New(k, 4, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b.AddExec("/bin/busybox")
	b.AddFile("/etc/hosts")
	b.AddConnection("192.0.2.1", 80, "tcp")
	b.AddListen(80, "tcp")
	if !b.Dirty() {
		t.Fatal("not dirty after learning")
	}
	if err := s.Save(b); err != nil {
		t.Fatal(err)
	}
	if b.Dirty() {
		t.Error("dirty after save")
	}
	got, err := s.Load(k)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.File(), b.File()) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.File(), b.File())
	}
	if !strings.HasPrefix(k.FileName(), "web_registry.example.com_web_1.2_") {
		t.Errorf("file name %s", k.FileName())
	}
	// A file holding another key's profile is refused.
	other := Key{Selector: "db", Image: "db:1"}
	if err := os.Rename(filepath.Join(dir, k.FileName()), filepath.Join(dir, other.FileName())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(other); err == nil || !strings.Contains(err.Error(), "holds the profile of") {
		t.Errorf("swapped profile: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		`{"version":2}`:                                                      "version 2 not supported",
		`{"version":1,"executables":["bin/sh"]}`:                             "not an absolute path",
		`{"version":1,"connections":["1.2.3.4:80"]}`:                         "want ip:port/proto",
		`{"version":1,"connections":["1.2.3.4:99999/tcp"]}`:                  "port",
		`{"version":1,"listen":["http/tcp"]}`:                                "port",
		`{"version":1,"bogus":1}`:                                            "unknown field",
		`{"version":1,"files":["/` + strings.Repeat("a", MaxItemLen) + `"]}`: "longer than",
	}
	for in, want := range cases {
		if _, err := Parse(strings.NewReader(in), 0); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%.40s): %v, want %q", in, err, want)
		}
	}
	if _, err := Parse(strings.NewReader(strings.Repeat(" ", MaxFileSize+1)), 0); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized: %v", err)
	}
}

// FuzzParse checks that profile parsing never panics and that an accepted
// profile survives a round trip. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(`{"version":1,"executables":["/bin/sh"]}`)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Parse(strings.NewReader(s), 8)
		if err != nil {
			return
		}
		fl := b.File()
		b2, err := FromFile(fl, 8)
		if err != nil {
			t.Fatalf("round trip of an accepted profile failed: %v", err)
		}
		if !reflect.DeepEqual(b2.File(), fl) {
			t.Fatal("round trip changed the profile")
		}
	})
}
