package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// dockerManifest is one entry of a docker-save manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// openDockerArchive opens a `docker save` tarball (both the classic layout
// and Docker 25+'s OCI-within-docker layout carry manifest.json).
func openDockerArchive(p string) (*Image, error) {
	ix, err := indexTar(p)
	if err != nil {
		return nil, fmt.Errorf("docker-archive %s: %w", p, err)
	}
	img, err := dockerArchiveImage(ix, p)
	if err != nil {
		ix.f.Close()
		return nil, fmt.Errorf("docker-archive %s: %w", p, err)
	}
	return img, nil
}

func dockerArchiveImage(ix *tarIndex, p string) (*Image, error) {
	raw, err := ix.readFile("manifest.json")
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("manifest.json lists no image")
	}
	m := ms[0]
	rawCfg, err := ix.readFile(m.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(rawCfg)))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers but the config has %d diff_ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	cfgDigest, _, _ := v1.SHA256(strings.NewReader(string(rawCfg)))
	info := imageInfo("docker-archive", p, cfgDigest.String(), cfg)
	info.RepoTags = m.RepoTags
	for i, name := range m.Layers {
		s, err := ix.open(name)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		info.Layers[i].Size = s.Size()
	}
	return &Image{
		Info: info,
		Open: func(_ context.Context, i int) (io.ReadCloser, error) {
			s, err := ix.open(m.Layers[i])
			if err != nil {
				return nil, err
			}
			return decompress(s)
		},
		Close: ix.f.Close,
	}, nil
}

// imageInfo fills the source description from an image config; layers are
// listed by DiffID with the history entry that made each.
func imageInfo(kind, input, imageID string, cfg *v1.ConfigFile) sbom.Source {
	info := sbom.Source{
		Kind:         kind,
		Input:        input,
		ImageID:      imageID,
		Labels:       cfg.Config.Labels,
		Architecture: cfg.Architecture,
		OS:           cfg.OS,
	}
	var cmds []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			cmds = append(cmds, h.CreatedBy)
		}
	}
	for i, d := range cfg.RootFS.DiffIDs {
		l := sbom.Layer{DiffID: d.String()}
		if i < len(cmds) && len(cmds) == len(cfg.RootFS.DiffIDs) {
			l.Command = cmds[i]
		}
		info.Layers = append(info.Layers, l)
	}
	return info
}
