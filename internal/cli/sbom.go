package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogers"
	"github.com/bulkhead-sec/bulkhead/internal/format"
	"github.com/bulkhead-sec/bulkhead/internal/format/cyclonedx"
	"github.com/bulkhead-sec/bulkhead/internal/format/jsonfmt"
	"github.com/bulkhead-sec/bulkhead/internal/format/spdx"
	"github.com/bulkhead-sec/bulkhead/internal/inspect"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/source"
)

// scanOptions are the flags shared by commands that read a target.
type scanOptions struct {
	catalogers  []string
	insecure    []string
	platform    string
	maxFileSize int64
	maxLayer    int64
	maxFiles    int
	maxPathLen  int
	// files is the image file listing scope (sbom --files); "" is off.
	files string
}

func (o *scanOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&o.catalogers, "catalogers", nil, "select catalogers by name or substring; -NAME removes (e.g. dpkg,python or -java)")
	f.StringSliceVar(&o.insecure, "insecure-registry", nil, "registry host[:port] to reach over plain HTTP (\"*\" for any)")
	f.StringVar(&o.platform, "platform", "", "image platform for multi-platform images (os/arch)")
	d := inspect.DefaultLimits()
	f.Int64Var(&o.maxFileSize, "max-file-size", d.MaxFileSize, "most bytes read from one file")
	f.Int64Var(&o.maxLayer, "max-layer-size", d.MaxLayerBytes, "most decompressed bytes read from one layer")
	f.IntVar(&o.maxFiles, "max-files", d.MaxFiles, "most entries read from one layer or tree")
	f.IntVar(&o.maxPathLen, "max-path-len", d.MaxPathLen, "longest path accepted; longer entries are skipped and reported")
}

// inventory opens a target and returns its SBOM.
func inventory(ctx context.Context, g *globals, arg string, o *scanOptions) (*sbom.SBOM, error) {
	t, err := source.Open(ctx, arg, source.Options{InsecureRegistries: o.insecure, Platform: o.platform, Logger: g.log})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if t.SBOM != "" {
		return readSBOM(t.SBOM)
	}
	cats, err := catalogers.Select(catalogers.Default(), o.catalogers)
	if err != nil {
		return nil, err
	}
	lim := inspect.DefaultLimits()
	lim.MaxFileSize, lim.MaxLayerBytes, lim.MaxFiles, lim.MaxPathLen = o.maxFileSize, o.maxLayer, o.maxFiles, o.maxPathLen
	opts := []inspect.Option{
		inspect.WithLimits(lim),
		inspect.WithLogger(g.log),
		inspect.WithTool(sbom.Descriptor{Name: "bulkhead", Version: Version()}),
	}
	if !g.noCache && t.Image != nil {
		c, err := inspect.NewDirCacheLimit(filepath.Join(g.cacheDir, "layers"), g.cacheMax)
		if err != nil {
			g.log.Warn("layer cache disabled", "err", err)
		} else {
			opts = append(opts, inspect.WithCache(c))
		}
	}
	prog := newProgress(g.stderr, g.quiet)
	if prog != nil {
		opts = append(opts, inspect.WithProgress(prog))
		defer prog.stop()
	}
	switch sbom.FileScope(o.files) {
	case "":
	case sbom.FilesExecutable, sbom.FilesAll:
		opts = append(opts, inspect.WithFileListing(sbom.FileScope(o.files)))
	default:
		return nil, fmt.Errorf("--files: want %q or %q, not %q", sbom.FilesExecutable, sbom.FilesAll, o.files)
	}
	e := inspect.New(cats, opts...)
	if t.Tree != nil {
		return e.ScanTree(ctx, t.Tree.Root, t.Tree.Info, t.Tree.Skip)
	}
	return e.ScanImage(ctx, inspect.Image{Info: t.Image.Info, Open: t.Image.Open, Stream: t.Image.Stream})
}

// maxSBOMInput bounds an SBOM document given as input.
const maxSBOMInput = 256 << 20

// readSBOM decodes a CycloneDX, SPDX or Bulkhead JSON document, recognised
// by its content.
func readSBOM(p string) (*sbom.SBOM, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("sbom %s: %w", p, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(io.LimitReader(f, maxSBOMInput+1), 1<<20)
	head, _ := br.Peek(1 << 20)
	var probe struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
		Schema      string `json:"schema"`
	}
	// A partial document is fine for sniffing: look for the marker keys.
	_ = json.Unmarshal(head, &probe)
	var doc *sbom.SBOM
	switch {
	case probe.BOMFormat == "CycloneDX" || bytes.Contains(head, []byte(`"bomFormat"`)):
		doc, err = cyclonedx.Decode(br)
	case probe.SPDXVersion != "" || bytes.Contains(head, []byte(`"spdxVersion"`)):
		doc, err = spdx.Decode(br)
	case strings.HasPrefix(probe.Schema, "bulkhead.sbom/") || bytes.Contains(head, []byte(`"bulkhead.sbom/`)):
		doc, err = jsonfmt.Decode(br)
	default:
		return nil, fmt.Errorf("sbom %s: not a CycloneDX, SPDX or Bulkhead JSON document", p)
	}
	if err != nil {
		return nil, fmt.Errorf("sbom %s: %w", p, err)
	}
	doc.Source.Kind, doc.Source.Input = "sbom", p
	return doc, nil
}

func sbomCommand(g *globals) *cobra.Command {
	var (
		o      scanOptions
		output string
		file   string
	)
	cmd := &cobra.Command{
		Use:   "sbom TARGET",
		Short: "List the packages in an image, directory, host or SBOM",
		Long: `List every package in TARGET.

TARGET is one of:
  docker:NAME[:TAG]     image from the local Docker Engine
  docker-archive:PATH   a 'docker save' tarball
  oci-dir:PATH          an OCI image layout directory
  oci-archive:PATH      a tar of an OCI image layout
  registry:REF          an image in an OCI registry
  dir:PATH              a root filesystem or project directory
  host                  this machine's root filesystem
  sbom:PATH             a CycloneDX, SPDX or Bulkhead JSON document
A bare argument is an existing directory or archive, else an image name
tried in the Docker Engine and then in its registry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			enc, err := format.ByName(output)
			if err != nil {
				return err
			}
			doc, err := inventory(cmd.Context(), g, args[0], &o)
			if err != nil {
				return err
			}
			return writeOutput(g, file, func(w io.Writer) error { return enc.Encode(w, doc) })
		},
	}
	o.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+strings.Join(format.Names(), ", "))
	cmd.Flags().StringVar(&file, "output-file", "", "write the output to this file instead of stdout")
	cmd.Flags().StringVar(&o.files, "files", "", "list the image's files in the JSON output (docs/drift.md): executable (the default with a bare --files) or all")
	cmd.Flags().Lookup("files").NoOptDefVal = string(sbom.FilesExecutable)
	return cmd
}

// writeOutput writes to stdout or, atomically, to a file.
func writeOutput(g *globals, file string, write func(io.Writer) error) error {
	if file == "" {
		w := bufio.NewWriterSize(g.stdout, 64<<10)
		if err := write(w); err != nil {
			return err
		}
		return w.Flush()
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, ".bulkhead-*")
	if err != nil {
		return fmt.Errorf("output file: %w", err)
	}
	w := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(w); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
