package e2e

import (
	"archive/tar"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

func busybox(t *testing.T) string {
	t.Helper()
	p := os.Getenv("BULKHEAD_TEST_BUSYBOX")
	if p == "" {
		testenv.Missing(t, "BULKHEAD_TEST_BUSYBOX (a static busybox from Debian's busybox-static) is not set")
	}
	return p
}

func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// goBinary builds a small Go program with one module dependency (a local
// replace, so no network) and returns its path.
func goBinary(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "go toolchain not on PATH")
	}
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "go.mod"), "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v1.4.0\n\nreplace example.com/lib v1.4.0 => ./lib\n", 0o644)
	writeFile(t, filepath.Join(src, "main.go"), "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Name()) }\n", 0o644)
	writeFile(t, filepath.Join(src, "lib/go.mod"), "module example.com/lib\n\ngo 1.22\n", 0o644)
	writeFile(t, filepath.Join(src, "lib/lib.go"), "package lib\n\nfunc Name() string { return \"lib\" }\n", 0o644)
	out := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

const scratchImage = "bulkhead-test/scratch:multi"

// buildScratch builds a three-layer image FROM scratch: busybox; a Go
// binary and two distroless-style dpkg records; then a layer that deletes
// one record (a whiteout) and replaces the other.
func buildScratch(t *testing.T) string {
	t.Helper()
	bb := busybox(t)
	needDocker(t)
	ctx := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ctx, "busybox"), string(data), 0o755)
	bin := goBinary(t, t.TempDir())
	b, _ := os.ReadFile(bin)
	writeFile(t, filepath.Join(ctx, "app"), string(b), 0o755)
	writeFile(t, filepath.Join(ctx, "keep"), "Package: keep\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n", 0o644)
	writeFile(t, filepath.Join(ctx, "drop"), "Package: drop\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.0\n", 0o644)
	writeFile(t, filepath.Join(ctx, "Dockerfile"), `FROM scratch
COPY busybox /bin/busybox
COPY app /usr/local/bin/app
COPY keep /var/lib/dpkg/status.d/keep
COPY drop /var/lib/dpkg/status.d/drop
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox rm /var/lib/dpkg/status.d/drop && /bin/busybox sed -i s/1.0/1.1/ /var/lib/dpkg/status.d/keep"]
LABEL org.example.tier=test
`, 0o644)
	cmd := exec.Command("docker", "build", "-q", "--no-cache", "-t", scratchImage, ctx)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	return scratchImage
}

func TestScratchImageLayers(t *testing.T) {
	img := buildScratch(t)
	archive := filepath.Join(t.TempDir(), "scratch.tar")
	run(t, "docker", "save", "-o", archive, img)
	for _, target := range []string{"docker:" + img, "docker-archive:" + archive} {
		t.Run(target, func(t *testing.T) {
			doc := scanJSON(t, target, "--no-cache")
			layers := doc.Source.Layers
			if len(layers) != 5 {
				t.Fatalf("%d layers, want 5", len(layers))
			}
			got := map[string]sbom.Package{}
			for _, p := range doc.Packages {
				got[p.Name] = p
			}
			if _, ok := got["drop"]; ok {
				t.Error("a record deleted in the top layer is reported")
			}
			keep, ok := got["keep"]
			if !ok || keep.Version != "1.1" || keep.Layer != layers[4].DiffID {
				t.Errorf("keep: %+v; want version 1.1 from the top layer %s", keep, layers[4].DiffID)
			}
			app, ok := got["example.com/app"]
			if !ok || app.Layer != layers[1].DiffID || app.Locations[0].Path != "/usr/local/bin/app" {
				t.Errorf("example.com/app: %+v; want it in layer 2", app)
			}
			if lib := got["./lib"]; lib.Name == "" {
				t.Errorf("the Go binary's replaced dependency is missing: %v", namesOf(doc, ""))
			}
			if std := got["stdlib"]; !strings.HasPrefix(std.Version, "go1.") {
				t.Errorf("stdlib: %+v", std)
			}
			if doc.Source.Labels["org.example.tier"] != "test" {
				t.Errorf("labels %v", doc.Source.Labels)
			}
		})
	}
}

// TestRegistryAndOCILayouts pushes the scratch image to a real OCI registry
// on localhost and writes it as an OCI layout directory and archive; every
// way of reading it must give the same packages as the docker archive.
func TestRegistryAndOCILayouts(t *testing.T) {
	img := buildScratch(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "scratch.tar")
	run(t, "docker", "save", "-o", archive, img)
	want := namesOf(scanJSON(t, "docker-archive:"+archive), "")

	tag, err := name.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	v1img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref, err := name.ParseReference(u.Host+"/team/scratch:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, v1img); err != nil {
		t.Fatal(err)
	}

	ociDir := filepath.Join(dir, "oci")
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(v1img); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, ociDir, ociTar)

	for _, tc := range []struct {
		target string
		extra  []string
	}{
		{"registry:" + u.Host + "/team/scratch:v1", []string{"--insecure-registry", u.Host}},
		{"oci-dir:" + ociDir, nil},
		{"oci-archive:" + ociTar, nil},
		{ociDir, nil}, // bare: a directory with oci-layout
		{ociTar, nil}, // bare: a tar with oci-layout
	} {
		t.Run(tc.target, func(t *testing.T) {
			doc := scanJSON(t, tc.target, append(tc.extra, "--no-cache")...)
			samePackages(t, tc.target, want, namesOf(doc, ""))
		})
	}
	t.Run("a missing repository fails with one clear line", func(t *testing.T) {
		_, errs, code := bulkhead(t, "sbom", "registry:"+u.Host+"/team/nothing:v1", "-q", "--no-cache", "--insecure-registry", u.Host)
		if code == 0 || !strings.Contains(errs, "registry") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("exit %d, stderr %q: want one error line", code, errs)
		}
	})
}

func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadTargets(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "junk.tar")
	writeFile(t, notTar, strings.Repeat("not a tar ", 100), 0o644)
	for _, tc := range []struct{ target, want string }{
		{"dir:" + filepath.Join(dir, "nope"), "no such file"},
		{"docker-archive:" + notTar, "docker-archive"},
		{"oci-dir:" + dir, "index.json"},
		{"sbom:" + notTar, "not a CycloneDX"},
		{"dir:", "needs a value"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			_, errs, code := bulkhead(t, "sbom", tc.target, "-q")
			if code == 0 {
				t.Fatal("exit 0 for a bad target")
			}
			if !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("stderr %q: want one line mentioning %q", errs, tc.want)
			}
		})
	}
}
