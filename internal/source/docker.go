package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/client"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// openDocker reads an image from the local Docker Engine. Metadata comes
// from the inspect call alone, so an image whose layers are all cached is
// never exported; otherwise the export (docker save) is streamed once and
// each layer analysed as it passes.
func openDocker(ctx context.Context, ref string, _ Options) (*Image, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker %s: %w", ref, err)
	}
	res, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker %s: %w", ref, err)
	}
	ins := res.InspectResponse
	info := sbom.Source{
		Kind:         "docker",
		Input:        ref,
		ImageID:      ins.ID,
		RepoTags:     ins.RepoTags,
		RepoDigests:  ins.RepoDigests,
		Architecture: ins.Architecture,
		OS:           ins.Os,
	}
	if ins.Config != nil {
		info.Labels = ins.Config.Labels
	}
	for _, d := range ins.RootFS.Layers {
		info.Layers = append(info.Layers, sbom.Layer{DiffID: d})
	}
	if hist, err := cli.ImageHistory(ctx, ins.ID); err == nil {
		var cmds []string
		// History is newest first; layers bottom first.
		for i := len(hist.Items) - 1; i >= 0; i-- {
			if hist.Items[i].Size > 0 || len(cmds) < len(info.Layers) && strings.HasPrefix(hist.Items[i].ID, "sha256:") {
				cmds = append(cmds, hist.Items[i].CreatedBy)
			}
		}
		if len(cmds) == len(info.Layers) {
			for i := range info.Layers {
				info.Layers[i].Command = cmds[i]
			}
		}
	}
	return &Image{
		Info: info,
		Stream: func(ctx context.Context, fn func(io.Reader) error) error {
			rc, err := cli.ImageSave(ctx, []string{ins.ID})
			if err != nil {
				return fmt.Errorf("docker save %s: %w", ref, err)
			}
			defer rc.Close()
			return streamSave(rc, fn)
		},
		Close: cli.Close,
	}, nil
}

// streamSave walks a docker-save stream and hands every member that is a
// layer (a tar, possibly compressed) to fn. Configs and manifests are JSON
// and are skipped; the caller identifies layers by hashing them.
func streamSave(r io.Reader, fn func(io.Reader) error) error {
	tr := tar.NewReader(r)
	br := bufio.NewReaderSize(nil, 64<<10)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("image export: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size < 1024 {
			continue
		}
		br.Reset(tr)
		head, _ := br.Peek(512)
		isTar := len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
		if !isTar {
			continue
		}
		if err := fn(br); err != nil {
			return err
		}
	}
}
