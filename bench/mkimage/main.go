// Command mkimage writes a synthetic docker-save archive for benchmarks: one
// layer with N small files spread over nested directories, plus a real dpkg
// status file (taken from a root filesystem when given) so catalogers have
// work to do.
//
//	go run ./bench/mkimage -files 1000000 -status ROOTFS/var/lib/dpkg/status -o big.tar
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"os"
	"time"
)

func main() {
	files := flag.Int("files", 1_000_000, "number of small files in the layer")
	status := flag.String("status", "", "dpkg status file to include (optional)")
	out := flag.String("o", "synthetic.tar", "output docker-save archive")
	flag.Parse()
	if err := run(*files, *status, *out); err != nil {
		log.Fatal(err)
	}
}

type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.h.Write(p) }

func run(n int, status, out string) error {
	// Write the layer to a temporary file first: its digest names it.
	layerTmp, err := os.CreateTemp("", "mkimage-layer-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(layerTmp.Name())
	hc := &hashCounter{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(layerTmp, hc), 1<<20)
	tw := tar.NewWriter(bw)
	mod := time.Unix(1700000000, 0)
	dirs := map[string]bool{}
	dir := func(d string) error {
		if dirs[d] {
			return nil
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mod})
	}
	if status != "" {
		b, err := os.ReadFile(status)
		if err != nil {
			return err
		}
		for _, d := range []string{"var", "var/lib", "var/lib/dpkg"} {
			if err := dir(d); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: mod}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	body := []byte("synthetic file content for a benchmark layer, padded to 64 bytes.\n")
	for i := range n {
		d1 := fmt.Sprintf("data/d%03d", i%1000)
		d2 := fmt.Sprintf("%s/e%02d", d1, (i/1000)%50)
		if err := dir("data"); err != nil {
			return err
		}
		if err := dir(d1); err != nil {
			return err
		}
		if err := dir(d2); err != nil {
			return err
		}
		size := 16 + i%32
		mode := int64(0o644)
		if i%100 == 0 {
			mode = 0o755 // some executables, so binary catalogers look too
		}
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%s/f%07d.txt", d2, i), Mode: mode, Size: int64(size), Typeflag: tar.TypeReg, ModTime: mod}); err != nil {
			return err
		}
		if _, err := tw.Write(body[:size]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	diffID := "sha256:" + hex.EncodeToString(hc.h.Sum(nil))

	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Labels": map[string]string{"org.example.synthetic": fmt.Sprint(n)}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history":      []map[string]any{{"created_by": fmt.Sprintf("mkimage -files %d", n)}},
	})
	cfgSum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	layerName := diffID[len("sha256:"):] + "/layer.tar"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bulkhead-bench/synthetic:latest"}, "Layers": []string{layerName}}})

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	obw := bufio.NewWriterSize(f, 1<<20)
	ow := tar.NewWriter(obw)
	add := func(name string, r io.Reader, size int64) error {
		if err := ow.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: mod}); err != nil {
			return err
		}
		_, err := io.Copy(ow, r)
		return err
	}
	if _, err := layerTmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := add(layerName, layerTmp, hc.n); err != nil {
		return err
	}
	if err := add(cfgName, bytes.NewReader(cfg), int64(len(cfg))); err != nil {
		return err
	}
	if err := add("manifest.json", bytes.NewReader(manifest), int64(len(manifest))); err != nil {
		return err
	}
	if err := ow.Close(); err != nil {
		return err
	}
	return obw.Flush()
}
