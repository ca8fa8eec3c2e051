package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
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
)

func randomChars(t *testing.T, alphabet string, n int) string {
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

func buildImage(t *testing.T, tag, dockerfile string, files map[string]string) {
	t.Helper()
	needDocker(t)
	ctx := t.TempDir()
	data, err := os.ReadFile(busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ctx, "busybox"), string(data), 0o755)
	for name, body := range files {
		writeFile(t, filepath.Join(ctx, name), body, 0o600)
	}
	writeFile(t, filepath.Join(ctx, "Dockerfile"), dockerfile, 0o644)
	cmd := exec.Command("docker", "build", "-q", "--no-cache", "-t", tag, ctx)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
}

func diffIDs(t *testing.T, tag string) []string {
	out := run(t, "docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", tag)
	var ids []string
	if err := json.Unmarshal([]byte(out), &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestCheckImage builds a root and a non-root image, and one that plants a
// private key and AWS credentials in a lower layer and deletes them in an
// upper one: the secrets are still reported, with the layer that holds
// them, from the Docker Engine and from a docker-save archive.
func TestCheckImage(t *testing.T) {
	sfx := randSuffix()
	root := "bulkhead-e2e/check-image-root:" + sfx
	nonroot := "bulkhead-e2e/check-image-nonroot:" + sfx
	secrets := "bulkhead-e2e/check-image-secrets:" + sfx
	buildImage(t, root, "FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"true\"]\n", nil)
	buildImage(t, nonroot, "FROM scratch\nCOPY busybox /bin/busybox\nUSER 1000:1000\nHEALTHCHECK CMD [\"/bin/busybox\", \"true\"]\nCMD [\"/bin/busybox\", \"true\"]\n", nil)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	akid := "AKIA" + randomChars(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	awsSecret := randomChars(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
	buildImage(t, secrets, `FROM scratch
COPY busybox /bin/busybox
COPY id_rsa /root/.ssh/id_rsa
COPY credentials /root/.aws/credentials
RUN ["/bin/busybox", "rm", "-f", "/root/.ssh/id_rsa", "/root/.aws/credentials"]
USER 1000
`, map[string]string{
		"id_rsa":      keyPEM,
		"credentials": "[default]\naws_access_key_id = " + akid + "\naws_secret_access_key = " + awsSecret + "\n",
	})

	res := checkJSON(t, 2, "check", "image", root, "--fail-on", "high")
	if !hasResult(res, "IMG-CFG-001", "fail", `User=""`) || !hasResult(res, "IMG-CFG-002", "fail", "Healthcheck=null") {
		t.Errorf("root image: %+v", res)
	}
	res = checkJSON(t, 0, "check", "image", nonroot, "--fail-on", "high")
	if !hasResult(res, "IMG-CFG-001", "pass", `User="1000:1000"`) || !hasResult(res, "IMG-CFG-002", "pass", "Healthcheck=CMD") {
		t.Errorf("non-root image: %+v", res)
	}

	ids := diffIDs(t, secrets)
	if len(ids) != 4 {
		t.Fatalf("layers %v", ids)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "secrets.tar")
	run(t, "docker", "save", "-o", archive, secrets)
	// The same image as an OCI layout, an OCI archive and in a registry.
	tag, err := name.NewTag(secrets)
	if err != nil {
		t.Fatal(err)
	}
	v1img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
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
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref, err := name.ParseReference(u.Host+"/team/secrets:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, v1img); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{secrets, "docker-archive:" + archive, "oci-dir:" + ociDir, "oci-archive:" + ociTar, "registry:" + u.Host + "/team/secrets:v1"} {
		res := checkJSON(t, 2, "check", "image", target, "--fail-on", "critical", "--insecure-registry", u.Host)
		want := []struct{ check, file, layer, evidence string }{
			{"IMG-SEC-001", "/root/.ssh/id_rsa", ids[1], "MIIE"},
			{"IMG-SEC-002", "/root/.aws/credentials", ids[2], "aws-access-key-id " + akid[:6]},
			{"IMG-SEC-002", "/root/.aws/credentials", ids[2], "aws-secret-access-key " + awsSecret[:6]},
		}
		for _, w := range want {
			found := false
			for _, r := range res {
				if r.CheckID == w.check && r.Status == "fail" && r.File == w.file && r.Layer == w.layer && r.Deleted &&
					strings.Contains(r.Evidence, w.evidence) && r.Kind == "Image" && r.Target == "image:"+target {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: %s in %s (%s) not reported as deleted in layer %s", target, w.check, w.file, w.evidence, w.layer)
			}
		}
		for _, r := range res {
			if strings.Contains(r.Evidence+r.Message, awsSecret) || strings.Contains(r.Evidence+r.Message, akid) {
				t.Errorf("secret printed in full: %s", r.Evidence)
			}
		}
		if !hasResult(res, "IMG-CFG-001", "pass", `User="1000"`) {
			t.Errorf("%s: USER 1000 not seen", target)
		}
	}

	// SARIF for the secrets image: the result names the image, the file
	// and the layer.
	out, _, _ := bulkhead(t, "check", "image", secrets, "-o", "sarif", "--hide-passed")
	validSARIF(t, out)
	if !strings.Contains(out, `"layer": "`+ids[1]+`"`) || !strings.Contains(out, `"uri": "root/.ssh/id_rsa"`) || !strings.Contains(out, "image "+secrets) {
		t.Errorf("SARIF lacks the layer, file or image:\n%.2000s", out)
	}
}

func hasResult(res []checkResult, id, status, evidence string) bool {
	for _, r := range res {
		if r.CheckID == id && r.Status == status && strings.Contains(r.Evidence, evidence) {
			return true
		}
	}
	return false
}

// TestCheckImageDebianRootfs runs the file-system and secret checks on a
// whole Debian rootfs (as a directory): its setuid binaries are found,
// and nothing in it is reported as a secret — the false-positive guard for
// the patterns and entropy thresholds.
func TestCheckImageDebianRootfs(t *testing.T) {
	root := rootfs(t)
	res := checkJSON(t, 0, "check", "image", "dir:"+root, "--hide-passed")
	setuid := false
	for _, r := range res {
		if strings.HasPrefix(r.CheckID, "IMG-SEC-") {
			t.Errorf("false positive? %s %s:%d %s", r.CheckID, r.File, r.Line, r.Evidence)
		}
		if r.CheckID == "IMG-FS-001" && r.File == "/usr/bin/passwd" && r.Status == "fail" {
			setuid = true
		}
		if strings.HasPrefix(r.CheckID, "IMG-CFG-") && r.Status != "not-applicable" {
			t.Errorf("%s on a directory: %s", r.CheckID, r.Status)
		}
	}
	if !setuid {
		t.Error("setuid /usr/bin/passwd not reported")
	}
}
