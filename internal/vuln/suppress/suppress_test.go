package suppress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var now = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func finding(id, name, purl string, aliases ...string) sbom.Finding {
	return sbom.Finding{ID: id, PackageName: name, PURL: purl, Aliases: aliases, Sources: []string{"DEBIAN-" + id}}
}

func TestApply(t *testing.T) {
	ign, err := LoadIgnoreFile("testdata/ignore.yaml", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ign.Expired) != 1 || ign.Expired[0].ID != "CVE-2024-0003" {
		t.Errorf("expired rules %+v", ign.Expired)
	}
	plain, err := LoadIgnoreFile("testdata/ignore.txt", now)
	if err != nil {
		t.Fatal(err)
	}
	ovex, err := LoadVEX("testdata/openvex.json")
	if err != nil {
		t.Fatal(err)
	}
	cvex, err := LoadVEX("testdata/cdx-vex.json")
	if err != nil {
		t.Fatal(err)
	}
	set := Merge(ign, plain, ovex, cvex)
	libc := "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
	ssl := "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
	xml := "pkg:deb/debian/libxml2@2.9.14%2Bdfsg-1.3~deb12u1?arch=amd64&distro=debian-12"
	tests := []struct {
		f    sbom.Finding
		want string // substring of Suppressed; "" = not suppressed
	}{
		{finding("CVE-2024-0001", "curl", "pkg:deb/debian/curl@7.88.1"), "ignore file ignore.yaml: not reachable"},
		{finding("CVE-2024-0002", "libc6", libc), "ignore file ignore.yaml: mitigated by seccomp"},
		{finding("CVE-2024-0002", "zlib1g", "pkg:deb/debian/zlib1g@1.2.13"), ""}, // other package
		{finding("CVE-2024-0003", "curl", ""), ""},                               // expired
		{finding("CVE-2024-0004", "curl", ""), "ignore file ignore.txt: vendor fix pending"},
		{finding("CVE-2024-9999", "lodash", "", "GHSA-aaaa-bbbb-cccc"), "ignore file ignore.txt"}, // by alias
		{finding("CVE-2024-0005", "openssl", ssl), "VEX openvex.json: not_affected (vulnerable_code_not_in_execute_path)"},
		{finding("CVE-2024-0005", "openssl", strings.Replace(ssl, "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", 1)), ""}, // other version
		{finding("CVE-2024-0006", "openssl", ssl), ""},                                                             // affected: informational
		{finding("CVE-2024-0007", "libxml2", xml), "VEX cdx-vex.json: not_affected (code_not_reachable): xmllint is not shipped"},
		{finding("CVE-2024-0008", "libxml2", xml), ""},
	}
	fs := make([]sbom.Finding, len(tests))
	for i, tt := range tests {
		fs[i] = tt.f
	}
	n := set.Apply(fs)
	want := 0
	for i, tt := range tests {
		if tt.want != "" {
			want++
		}
		if got := fs[i].Suppressed; (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s on %s: suppressed %q, want %q", tt.f.ID, tt.f.PackageName, got, tt.want)
		}
	}
	if n != want {
		t.Errorf("Apply marked %d, want %d", n, want)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	tests := []struct {
		name, file, content, want string
		vex                       bool
	}{
		{"yaml no id", "a.yaml", "vulnerabilities:\n  - reason: x\n", "has no id", false},
		{"yaml bad date", "b.yaml", "vulnerabilities:\n  - id: X\n    expires: tomorrow\n", "not YYYY-MM-DD", false},
		{"plain junk", "c.txt", "CVE-1 whatever\n", "unexpected", false},
		{"not json", "d.json", "nope", "not JSON", true},
		{"unknown doc", "e.json", `{"a":1}`, "neither OpenVEX", true},
		{"openvex bad context", "f.json", `{"@context":"https://example.com","statements":[]}`, "not an OpenVEX", true},
		{"openvex no justification", "g.json", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"status":"not_affected"}]}`, "needs a justification", true},
		{"openvex bad status", "h.json", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","status":"maybe"}]}`, "unknown status", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.file, tt.content)
			var err error
			if tt.vex {
				_, err = LoadVEX(p)
			} else {
				_, err = LoadIgnoreFile(p, now)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzLoadVEX(f *testing.F) {
	for _, p := range []string{"testdata/openvex.json", "testdata/cdx-vex.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "v.json")
		os.WriteFile(p, data, 0o644)
		s, err := LoadVEX(p)
		if err == nil {
			s.Apply([]sbom.Finding{finding("CVE-2024-0005", "openssl", "pkg:deb/debian/openssl@1")})
		}
	})
}
