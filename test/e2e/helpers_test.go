// Package e2e runs Bulkhead's command line against real inputs: a Debian
// root filesystem made with debootstrap, images in the local Docker Engine
// (imported from that rootfs, and built FROM scratch with a static busybox
// and a Go binary compiled here), their docker-save archives, OCI layouts,
// and a real OCI registry served on localhost.
//
// Prerequisites come from scripts/test-env.sh. Without them the tests skip
// with a message naming what is missing; with BULKHEAD_REQUIRE_INTEGRATION=1
// (as .ci/run sets) they fail instead.
package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/cli"
	"github.com/bulkhead-sec/bulkhead/internal/format/jsonfmt"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/testenv"
)

func rootfs(t testing.TB) string {
	t.Helper()
	p := os.Getenv("BULKHEAD_TEST_ROOTFS")
	if p == "" {
		testenv.Missing(t, "BULKHEAD_TEST_ROOTFS (a debootstrap bookworm rootfs) is not set")
	}
	if _, err := os.Stat(filepath.Join(p, "var/lib/dpkg/status")); err != nil {
		testenv.Missing(t, "BULKHEAD_TEST_ROOTFS=%s has no dpkg status: %v", p, err)
	}
	return p
}

func needDocker(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		testenv.Missing(t, "Docker Engine not reachable (docker info: %v)", err)
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// bulkhead runs the CLI in-process and returns stdout, stderr and the exit
// code.
func bulkhead(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func scanJSON(t testing.TB, target string, extra ...string) *sbom.SBOM {
	t.Helper()
	args := append([]string{"sbom", target, "-o", "json", "-q", "--cache-dir", cacheDir(t)}, extra...)
	out, errs, code := bulkhead(t, args...)
	if code != 0 {
		t.Fatalf("bulkhead %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	doc, err := jsonfmt.Decode(strings.NewReader(out))
	if err != nil {
		t.Fatalf("decode output of %s: %v", target, err)
	}
	return doc
}

var (
	cacheOnce sync.Once
	cachePath string
)

// cacheDir is one layer cache for the whole test binary (removed by the OS
// temp cleaner; tests that need a cold cache pass --no-cache).
func cacheDir(t testing.TB) string {
	cacheOnce.Do(func() {
		d, err := os.MkdirTemp("", "bulkhead-e2e-cache-*")
		if err != nil {
			t.Fatal(err)
		}
		cachePath = d
	})
	return cachePath
}

// dpkgOracle asks Debian's own dpkg-query which packages the rootfs has
// installed: an independent answer to compare against.
func dpkgOracle(t testing.TB, root string) []string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		testenv.Missing(t, "dpkg-query not on PATH")
	}
	out := run(t, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f", "${db:Status-Status} ${Package} ${Version}\n")
	var pkgs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		st, rest, _ := strings.Cut(l, " ")
		if st == "installed" {
			pkgs = append(pkgs, rest)
		}
	}
	sort.Strings(pkgs)
	return pkgs
}

func namesOf(doc *sbom.SBOM, typ sbom.Type) []string {
	var out []string
	for _, p := range doc.Packages {
		if typ == "" || p.Type == typ {
			out = append(out, p.Name+" "+p.Version)
		}
	}
	sort.Strings(out)
	return out
}

func diffLists(want, got []string) (missingFromGot, extra []string) {
	w := map[string]bool{}
	for _, x := range want {
		w[x] = true
	}
	g := map[string]bool{}
	for _, x := range got {
		g[x] = true
		if !w[x] {
			extra = append(extra, x)
		}
	}
	for _, x := range want {
		if !g[x] {
			missingFromGot = append(missingFromGot, x)
		}
	}
	return
}

func samePackages(t testing.TB, what string, want, got []string) {
	t.Helper()
	m, e := diffLists(want, got)
	if len(m) > 0 || len(e) > 0 {
		t.Errorf("%s: missing %v, unexpected %v", what, m, e)
	}
}
