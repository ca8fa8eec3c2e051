package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/source"
)

type tf struct {
	name string
	mode int64
	body string
	typ  byte
}

func layerTar(t testing.TB, files ...tf) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: typ}
		if typ == tar.TypeDir {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(f.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

func diffID(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// testImage is an in-memory image source.
func testImage(layers ...[]byte) *source.Image {
	info := sbom.Source{Kind: "test", Input: "test"}
	for _, l := range layers {
		info.Layers = append(info.Layers, sbom.Layer{DiffID: diffID(l)})
	}
	return &source.Image{Info: info, Open: func(_ context.Context, i int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layers[i])), nil
	}}
}

const awsKey = "AKIAQWERTYUIOPASDFGH"

// Test keys are random-looking text between PEM armour: the scanner
// checks shape and entropy, and no real key is committed.
var pemKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\nLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo\n-----END RSA PRIVATE KEY-----\n"

func TestScanImageDeletedSecret(t *testing.T) {
	l1 := layerTar(t,
		tf{name: "etc/", mode: 0o755, typ: tar.TypeDir},
		tf{name: "root/.ssh/id_rsa", mode: 0o600, body: pemKey},
		tf{name: "app/aws.env", mode: 0o644, body: "AWS_ACCESS_KEY_ID=" + awsKey + "\n"},
		tf{name: "usr/bin/su", mode: 0o4755, body: "ELF"},
		tf{name: "tmp/drop/", mode: 0o777, typ: tar.TypeDir},
		tf{name: "tmp/drop/x", mode: 0o666, body: "x"},
		tf{name: "var/cache/apt/archives/a.deb", mode: 0o644, body: "deb"},
	)
	l2 := layerTar(t,
		tf{name: "root/.ssh/.wh.id_rsa", mode: 0o644},
		tf{name: "app/aws.env", mode: 0o644, body: "# cleaned\n"},
		tf{name: "tmp/.wh..wh..opq", mode: 0o644},
		tf{name: "usr/sbin/sshd", mode: 0o755, body: "ELF"},
	)
	fsys, err := ScanImage(context.Background(), testImage(l1, l2), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(fsys.Secrets) != 2 {
		t.Fatalf("secrets %+v", fsys.Secrets)
	}
	for _, s := range fsys.Secrets {
		if s.Layer != diffID(l1) || !s.Deleted {
			t.Errorf("%s in %s deleted=%v; want layer 1, deleted", s.Path, s.Layer, s.Deleted)
		}
	}
	if _, ok := fsys.Files["/root/.ssh/id_rsa"]; ok {
		t.Error("whiteout ignored")
	}
	if _, ok := fsys.Files["/tmp/drop/x"]; ok {
		t.Error("opaque directory ignored")
	}
	s := fsys.Summarize(DefaultLimits())
	if len(s.Setuid) != 1 || s.Setuid[0].Path != "/usr/bin/su" || len(s.SSHServers) != 1 || len(s.PkgCaches) != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestScanImageRejectsTamperedLayer(t *testing.T) {
	img := testImage(layerTar(t, tf{name: "a", mode: 0o644, body: "a"}))
	img.Info.Layers[0].DiffID = "sha256:" + strings.Repeat("0", 64)
	if _, err := ScanImage(context.Background(), img, DefaultLimits()); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("err %v", err)
	}
}

// Fixture images for the check cases: bad has everything wrong, good
// nothing.
func fixture(t *testing.T, bad bool) *Facts {
	t.Helper()
	var layers [][]byte
	cfg := &Config{User: "app", Healthcheck: []string{"CMD", "/bin/true"}, Labels: map[string]string{"org.opencontainers.image.title": "x"},
		Env:          []string{"PATH=/usr/bin", "DB_PASSWORD_FILE=/run/secrets/db"},
		History:      []History{{CreatedBy: "COPY app /app # buildkit"}, {CreatedBy: `RUN /bin/sh -c curl -fsSLo /tmp/i.sh https://example.com/i.sh && sha256sum -c sums # buildkit`}},
		ExposedPorts: []string{"8080/tcp"}}
	layers = append(layers, layerTar(t,
		tf{name: "app/config.yaml", mode: 0o644, body: "password: ${DB_PASSWORD}\n"},
		tf{name: "usr/bin/app", mode: 0o755, body: "ELF"},
		tf{name: "tmp/", mode: 0o1777, typ: tar.TypeDir},
	))
	if bad {
		cfg = &Config{User: "", Labels: map[string]string{"slack": "https://hooks.slack.com/services/T0ABCDEFGH/B0ABCDEFGH/aB3dE5gH7jK9mN1pQ3sT5vW7"},
			Env:          []string{"API_TOKEN=s3cr3tvalue", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8a4sT2vB"},
			History:      []History{{CreatedBy: "ADD https://example.com/app.tgz /app # buildkit"}, {CreatedBy: "/bin/sh -c curl -fsSL https://get.example.com | sh"}},
			ExposedPorts: []string{"22/tcp", "8080/tcp"}}
		layers = append(layers, layerTar(t,
			tf{name: "root/.ssh/id_rsa", mode: 0o600, body: pemKey},
			tf{name: "home/app/.aws/credentials", mode: 0o600, body: "[default]\naws_access_key_id = " + awsKey + "\n"},
			tf{name: "app/gh", mode: 0o600, body: "token=ghp_aB3dE5gH7jK9mN1pQ3sT5vW7xY9zA1bC3dE5\n"},
			tf{name: "app/db.ini", mode: 0o644, body: "[db]\nsecret_key = 9fQ2xL7vR4mT8kW1zP5nB3cY6hJ0dG\n"},
			tf{name: "usr/bin/sudo", mode: 0o4755, body: "ELF"},
			tf{name: "usr/bin/wall", mode: 0o2755, body: "ELF"},
			tf{name: "data/", mode: 0o777, typ: tar.TypeDir},
			tf{name: "data/x", mode: 0o666, body: "x"},
			tf{name: "var/lib/apt/lists/deb.debian.org_dists", mode: 0o644, body: "Packages"},
			tf{name: "usr/sbin/sshd", mode: 0o755, body: "ELF"},
		), layerTar(t, tf{name: "root/.ssh/.wh.id_rsa"}))
	}
	fsys, err := ScanImage(context.Background(), testImage(layers...), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return &Facts{Target: "image:test", Name: "test", ID: "sha256:1234", Config: cfg, FS: fsys, Summary: fsys.Summarize(DefaultLimits())}
}

func TestChecks(t *testing.T) {
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	bad := Evaluate(fixture(t, true), e)
	good := Evaluate(fixture(t, false), e)
	for _, r := range append(slices.Clone(bad), good...) {
		if r.Status == compliance.StatusError {
			t.Fatalf("%s: %s", r.CheckID, r.Message)
		}
	}
	wantBad := map[string][]string{ // check → evidence or file of each violation
		"IMG-CFG-001": {`User=""`},
		"IMG-CFG-002": {"Healthcheck=null"},
		"IMG-CFG-003": {"API_TOKEN=s3…", "AWS_SECRET_ACCESS_KEY=wJ…", "Labels[slack]"},
		"IMG-CFG-004": {"ADD https://example.com/app.tgz"},
		"IMG-CFG-005": {"curl -fsSL https://get.example.com | sh"},
		"IMG-CFG-006": {"ExposedPorts: 22/tcp"},
		"IMG-FS-001":  {"/usr/bin/sudo", "/usr/bin/wall"},
		"IMG-FS-002":  {"/data", "/data/x"},
		"IMG-FS-003":  {"/var/lib/apt/lists"},
		"IMG-FS-004":  {"/usr/sbin/sshd"},
		"IMG-SEC-001": {"/root/.ssh/id_rsa"},
		"IMG-SEC-002": {"/home/app/.aws/credentials"},
		"IMG-SEC-003": {"/app/gh"},
		"IMG-SEC-004": {"/app/db.ini"},
	}
	cs, _ := BuiltinChecks()
	for _, c := range cs {
		want, ok := wantBad[c.ID]
		if !ok {
			t.Errorf("%s: no failing case", c.ID)
			continue
		}
		var got []compliance.Result
		for _, r := range bad {
			if r.CheckID == c.ID {
				got = append(got, r)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d results, want %d: %+v", c.ID, len(got), len(want), got)
			continue
		}
		for i, w := range want {
			r := got[i]
			if !r.Failed() || !strings.Contains(r.Evidence+" "+r.File, w) {
				t.Errorf("%s[%d]: %s %s %s; want a failure with %q", c.ID, i, r.Status, r.File, r.Evidence, w)
			}
		}
		passed := false
		for _, r := range good {
			if r.CheckID == c.ID {
				passed = r.Status == compliance.StatusPass
			}
		}
		if !passed {
			t.Errorf("%s: does not pass on the good image", c.ID)
		}
	}
	// The deleted key is reported with its layer, marked deleted.
	for _, r := range bad {
		if r.CheckID == "IMG-SEC-001" && (!r.Deleted || r.Layer == "" || r.File != "/root/.ssh/id_rsa") {
			t.Errorf("deleted key: %+v", r)
		}
	}
}

func TestScanTree(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc", "skip"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc", "creds"), []byte("aws_access_key_id = "+awsKey+"\n"), 0o600)
	os.WriteFile(filepath.Join(root, "etc", "skip", "creds"), []byte("aws_access_key_id = "+awsKey+"\n"), 0o600)
	os.WriteFile(filepath.Join(root, "su"), []byte("ELF"), 0o755)
	os.Chmod(filepath.Join(root, "su"), 0o755|os.ModeSetuid)
	os.Symlink("/etc/shadow", filepath.Join(root, "shadow"))
	fsys, err := ScanTree(context.Background(), root, []string{"/etc/skip"}, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(fsys.Secrets) != 1 || fsys.Secrets[0].Path != "/etc/creds" || fsys.Secrets[0].Deleted {
		t.Errorf("secrets %+v", fsys.Secrets)
	}
	f := &Facts{Target: "dir:" + root, Name: root, FS: fsys, Summary: fsys.Summarize(DefaultLimits())}
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Evaluate(f, e) {
		switch {
		case strings.HasPrefix(r.CheckID, "IMG-CFG-") && r.Status != compliance.StatusNotApplicable:
			t.Errorf("%s on a directory: %s", r.CheckID, r.Status)
		case r.CheckID == "IMG-FS-001" && (r.Status != compliance.StatusFail || r.File != "/su"):
			t.Errorf("setuid: %+v", r)
		}
	}
}
