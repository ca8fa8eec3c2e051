package drift

import (
	"context"
	"fmt"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/inspect"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/source"
)

// DockerScanner scans an image in the local Docker Engine (the docker
// source: one export, streamed, nothing extracted) through the inspect
// engine with the file listing on.
type DockerScanner struct {
	// Catalogers run during the walk. None is enough for drift and
	// cheapest; the default set shares cache entries with
	// "bulkhead sbom --files" (the cache key names the catalogers).
	Catalogers []catalog.Cataloger
	// Options for the engine: WithCache (the CLI's layer cache, so layers
	// already analysed with a listing are not read again), WithLimits,
	// WithLogger.
	Options []inspect.Option
	// Scope of the listing; empty is sbom.FilesExecutable.
	Scope sbom.FileScope
}

// Scan implements Scanner.
func (s DockerScanner) Scan(ctx context.Context, imageID string) (*sbom.SBOM, error) {
	t, err := source.Open(ctx, "docker:"+imageID, source.Options{})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if t.Image == nil {
		return nil, fmt.Errorf("docker:%s is not an image", imageID)
	}
	scope := s.Scope
	if scope == "" {
		scope = sbom.FilesExecutable
	}
	opts := append(append([]inspect.Option(nil), s.Options...), inspect.WithFileListing(scope))
	e := inspect.New(s.Catalogers, opts...)
	return e.ScanImage(ctx, inspect.Image{Info: t.Image.Info, Open: t.Image.Open, Stream: t.Image.Stream})
}
