package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// Config is the part of an image's configuration the checks read.
type Config struct {
	User         string
	Env          []string
	Labels       map[string]string
	ExposedPorts []string
	// Healthcheck is the HEALTHCHECK test; nil when the image has none.
	Healthcheck []string
	History     []History
}

// History is one entry of the image's build history.
type History struct {
	CreatedBy  string
	EmptyLayer bool
}

// maxMeta bounds a manifest, index or config read from an archive.
const maxMeta = 4 << 20

func fromConfigFile(cf *v1.ConfigFile) *Config {
	c := &Config{User: cf.Config.User, Env: cf.Config.Env, Labels: cf.Config.Labels}
	for p := range cf.Config.ExposedPorts {
		c.ExposedPorts = append(c.ExposedPorts, p)
	}
	sort.Strings(c.ExposedPorts)
	if cf.Config.Healthcheck != nil {
		c.Healthcheck = cf.Config.Healthcheck.Test
		if c.Healthcheck == nil {
			c.Healthcheck = []string{}
		}
	}
	for _, h := range cf.History {
		c.History = append(c.History, History{CreatedBy: h.CreatedBy, EmptyLayer: h.EmptyLayer})
	}
	return c
}

// readConfig reads the configuration of the image source opened: kind
// and input are the source's scheme and argument (sbom.Source).
func readConfig(ctx context.Context, kind, input, imageID string, insecure []string) (*Config, error) {
	switch kind {
	case "docker":
		return dockerConfig(ctx, cmpOr(imageID, input))
	case "docker-archive":
		img, err := tarball.ImageFromPath(input, nil)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		return fromConfigFile(cf), nil
	case "registry":
		var nopts []name.Option
		host, _, _ := strings.Cut(input, "/")
		if slices.Contains(insecure, "*") || slices.Contains(insecure, host) {
			nopts = append(nopts, name.Insecure)
		}
		ref, err := name.ParseReference(input, nopts...)
		if err != nil {
			return nil, err
		}
		img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		return fromConfigFile(cf), nil
	case "oci-dir":
		return ociConfig(func(p string) ([]byte, error) {
			f, err := os.Open(filepath.Join(input, filepath.FromSlash(p)))
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return readMax(f)
		}, imageID)
	case "oci-archive":
		members, err := smallMembers(input)
		if err != nil {
			return nil, err
		}
		return ociConfig(func(p string) ([]byte, error) {
			b, ok := members[p]
			if !ok {
				return nil, fmt.Errorf("%s: not in the archive", p)
			}
			return b, nil
		}, imageID)
	}
	return nil, fmt.Errorf("image configuration of a %s source is not readable", kind)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func readMax(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMeta+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMeta {
		return nil, errors.New("image metadata larger than 4 MiB")
	}
	return b, nil
}

func dockerConfig(ctx context.Context, ref string) (*Config, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	var raw bytes.Buffer
	if _, err := cli.ImageInspect(ctx, ref, client.ImageInspectWithRawResponse(&raw)); err != nil {
		return nil, err
	}
	var ins struct {
		Config *struct {
			User         string
			Env          []string
			Labels       map[string]string
			ExposedPorts map[string]any
			Healthcheck  *struct{ Test []string }
		}
	}
	if err := json.Unmarshal(raw.Bytes(), &ins); err != nil {
		return nil, err
	}
	c := &Config{}
	if ins.Config != nil {
		c.User, c.Env, c.Labels = ins.Config.User, ins.Config.Env, ins.Config.Labels
		for p := range ins.Config.ExposedPorts {
			c.ExposedPorts = append(c.ExposedPorts, p)
		}
		sort.Strings(c.ExposedPorts)
		if ins.Config.Healthcheck != nil {
			c.Healthcheck = append([]string{}, ins.Config.Healthcheck.Test...)
		}
	}
	hist, err := cli.ImageHistory(ctx, ref)
	if err != nil {
		return nil, err
	}
	for i := len(hist.Items) - 1; i >= 0; i-- {
		h := hist.Items[i]
		c.History = append(c.History, History{CreatedBy: h.CreatedBy, EmptyLayer: h.Size == 0})
	}
	return c, nil
}

// ociConfig follows index.json to the image config whose digest is
// imageID (the source picked the platform), else the first image.
func ociConfig(read func(string) ([]byte, error), imageID string) (*Config, error) {
	if imageID != "" {
		if h, err := v1.NewHash(imageID); err == nil {
			if b, err := read("blobs/" + h.Algorithm + "/" + h.Hex); err == nil {
				cf, err := v1.ParseConfigFile(bytes.NewReader(b))
				if err != nil {
					return nil, err
				}
				return fromConfigFile(cf), nil
			}
		}
	}
	b, err := read("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	for depth := 0; depth < 4; depth++ {
		if len(idx.Manifests) == 0 {
			return nil, errors.New("empty image index")
		}
		d := idx.Manifests[0]
		mb, err := read("blobs/" + d.Digest.Algorithm + "/" + d.Digest.Hex)
		if err != nil {
			return nil, err
		}
		if d.MediaType.IsIndex() {
			if idx, err = v1.ParseIndexManifest(bytes.NewReader(mb)); err != nil {
				return nil, err
			}
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(mb))
		if err != nil {
			return nil, err
		}
		cb, err := read("blobs/" + m.Config.Digest.Algorithm + "/" + m.Config.Digest.Hex)
		if err != nil {
			return nil, err
		}
		cf, err := v1.ParseConfigFile(bytes.NewReader(cb))
		if err != nil {
			return nil, err
		}
		return fromConfigFile(cf), nil
	}
	return nil, errors.New("image indexes nested too deep")
}

// smallMembers reads an OCI archive's small members (index, manifests,
// configs) in one pass; layers are larger and skipped.
func smallMembers(p string) (map[string][]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]byte{}
	total := 0
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg || h.Size > maxMeta || total > 16*maxMeta {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		total += len(b)
		out[strings.TrimPrefix(filepath.ToSlash(filepath.Clean(h.Name)), "./")] = b
	}
}
