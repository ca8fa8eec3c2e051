// Package source opens scan targets: container images (from the Docker
// Engine, docker-save archives, OCI layouts and registries) and file trees
// (a directory or the running host). It resolves user arguments the way Syft
// does and never extracts a layer to disk: layers are handed out as
// uncompressed tar streams.
//
// It imports internal/sbom, go-containerregistry and the Docker Engine API
// client; it knows nothing of catalogers.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Image is an image's metadata and a way to read its layers.
type Image struct {
	Info sbom.Source
	// Open returns layer i's uncompressed tar stream. Nil when the source
	// can only stream every layer in one pass.
	Open func(ctx context.Context, i int) (io.ReadCloser, error)
	// Stream calls fn with each layer's uncompressed tar, in the order the
	// source holds them (Docker Engine export).
	Stream func(ctx context.Context, fn func(r io.Reader) error) error
	// Close releases the source.
	Close func() error
}

// Tree is a file tree to walk.
type Tree struct {
	Info sbom.Source
	Root string
	// Skip lists absolute paths (inside Root) not to descend into.
	Skip []string
}

// Target is an opened scan target: exactly one of Image, Tree or SBOM is set.
type Target struct {
	Image *Image
	Tree  *Tree
	// SBOM is the path of an SBOM document given as sbom:PATH.
	SBOM string
}

// Close releases what the target holds.
func (t *Target) Close() error {
	if t.Image != nil && t.Image.Close != nil {
		return t.Image.Close()
	}
	return nil
}

// Options tune how targets are opened.
type Options struct {
	// InsecureRegistries lists registries (host[:port]) reached over plain
	// HTTP; "*" allows any.
	InsecureRegistries []string
	// Platform selects an image from a multi-platform index
	// ("linux/amd64"); empty means linux and the host's architecture.
	Platform string
	Logger   *slog.Logger
}

// ErrNotFound is wrapped when a target does not exist.
var ErrNotFound = errors.New("not found")

// Schemes lists the accepted schemes, in the order help text shows them.
var Schemes = []string{"docker", "docker-archive", "oci-dir", "oci-archive", "registry", "dir", "host", "sbom"}

// Split separates "scheme:rest"; scheme is "" for a bare argument.
func Split(arg string) (scheme, rest string) {
	for _, s := range Schemes {
		if arg == s && s == "host" {
			return s, ""
		}
		if r, ok := strings.CutPrefix(arg, s+":"); ok {
			return s, r
		}
	}
	return "", arg
}

// Open opens a target argument.
func Open(ctx context.Context, arg string, opts Options) (*Target, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	scheme, rest := Split(arg)
	if scheme == "" {
		return openBare(ctx, arg, opts)
	}
	if rest == "" && scheme != "host" {
		return nil, fmt.Errorf("%s: needs a value after %q", arg, scheme+":")
	}
	switch scheme {
	case "docker":
		return wrapImage(openDocker(ctx, rest, opts))
	case "docker-archive":
		return wrapImage(openDockerArchive(rest))
	case "oci-dir":
		return wrapImage(openOCIDir(rest, opts))
	case "oci-archive":
		return wrapImage(openOCIArchive(rest, opts))
	case "registry":
		return wrapImage(openRegistry(ctx, rest, opts))
	case "dir":
		return openDir(rest)
	case "host":
		return &Target{Tree: &Tree{
			Info: sbom.Source{Kind: "host", Input: hostname()},
			Root: "/",
			Skip: HostSkip,
		}}, nil
	case "sbom":
		if _, err := os.Stat(rest); err != nil {
			return nil, fmt.Errorf("sbom %s: %w", rest, err)
		}
		return &Target{SBOM: rest}, nil
	}
	return nil, fmt.Errorf("unknown scheme %q", scheme)
}

// HostSkip are the parts of a running host that are not its installed
// software: kernel and device pseudo-filesystems, and container engines'
// storage (containers are inventoried as images).
var HostSkip = []string{"/proc", "/sys", "/dev", "/run", "/var/run", "/var/lib/docker", "/var/lib/containerd", "/var/lib/containers", "/var/lib/kubelet/pods", "/tmp"}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

func wrapImage(img *Image, err error) (*Target, error) {
	if err != nil {
		return nil, err
	}
	return &Target{Image: img}, nil
}

func openDir(p string) (*Target, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", p, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dir %s: not a directory", p)
	}
	return &Target{Tree: &Tree{Info: sbom.Source{Kind: "dir", Input: p}, Root: p}}, nil
}

// openBare resolves an argument without a scheme like Syft: an existing
// directory is a dir, an existing file an archive (OCI if it holds
// oci-layout, else docker-save) or an SBOM; anything else an image name,
// tried in the local Docker Engine first and then in its registry.
func openBare(ctx context.Context, arg string, opts Options) (*Target, error) {
	if st, err := os.Stat(arg); err == nil {
		if st.IsDir() {
			if _, err := os.Stat(arg + "/oci-layout"); err == nil {
				return wrapImage(openOCIDir(arg, opts))
			}
			return openDir(arg)
		}
		kind, err := sniffFile(arg)
		if err != nil {
			return nil, err
		}
		switch kind {
		case "oci-archive":
			return wrapImage(openOCIArchive(arg, opts))
		case "docker-archive":
			return wrapImage(openDockerArchive(arg))
		case "sbom":
			return &Target{SBOM: arg}, nil
		}
		return nil, fmt.Errorf("%s: not a directory, image archive or SBOM document", arg)
	}
	img, derr := openDocker(ctx, arg, opts)
	if derr == nil {
		return &Target{Image: img}, nil
	}
	img, rerr := openRegistry(ctx, arg, opts)
	if rerr == nil {
		return &Target{Image: img}, nil
	}
	return nil, fmt.Errorf("%s: no such file or directory; docker: %v; registry: %v", arg, derr, rerr)
}
