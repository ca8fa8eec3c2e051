package source

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// openRegistry reads an image from an OCI registry, with credentials from
// ~/.docker/config.json (and its credential helpers).
func openRegistry(ctx context.Context, ref string, opts Options) (*Image, error) {
	var nopts []name.Option
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", ref, err)
	}
	if slices.Contains(opts.InsecureRegistries, "*") || slices.Contains(opts.InsecureRegistries, r.Context().RegistryStr()) {
		nopts = append(nopts, name.Insecure)
		if r, err = name.ParseReference(ref, nopts...); err != nil {
			return nil, fmt.Errorf("registry %s: %w", ref, err)
		}
	}
	img, err := remote.Image(r,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(platformOf(opts.Platform)),
	)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("registry %s: config: %w", ref, err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("registry %s: layers: %w", ref, err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("registry %s: manifest lists %d layers but the config has %d diff_ids", ref, len(layers), len(cfg.RootFS.DiffIDs))
	}
	info := imageInfo("registry", ref, cfgName.String(), cfg)
	if d, err := img.Digest(); err == nil {
		info.ManifestID = d.String()
		info.RepoDigests = []string{r.Context().Name() + "@" + d.String()}
	}
	if t, ok := r.(name.Tag); ok {
		info.RepoTags = []string{t.Name()}
	}
	for i, l := range layers {
		if d, err := l.Digest(); err == nil {
			info.Layers[i].Digest = d.String()
		}
		if s, err := l.Size(); err == nil {
			info.Layers[i].Size = s
		}
	}
	return &Image{
		Info: info,
		Open: func(_ context.Context, i int) (io.ReadCloser, error) {
			return layers[i].Uncompressed()
		},
		Close: func() error { return nil },
	}, nil
}
