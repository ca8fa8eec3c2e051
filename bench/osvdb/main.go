// Command osvdb builds an offline database in osv-scanner's layout
// (<root>/osv-scanner/<Ecosystem>/all.zip, one OSV JSON per entry, plus
// <root>/osv-scalibr pointing at the same folder) from OSV records in
// directories (JSON or YAML), for side-by-side comparisons with
// osv-scanner. Ecosystems given with -empty get an empty zip: osv-scanner
// stops matching the remaining ecosystems when one it needs is missing.
//
//	go run ./bench/osvdb -o ROOT -empty npm,Maven DIR...
package main

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

func main() {
	out := flag.String("o", "", "output root")
	empty := flag.String("empty", "", "comma-separated ecosystems that get an empty all.zip")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		log.Fatal("usage: osvdb -o ROOT [-empty ECO,...] DIR...")
	}
	byEco := map[string]map[string][]byte{}
	for _, dir := range flag.Args() {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			ext := strings.ToLower(filepath.Ext(p))
			if ext != ".json" && ext != ".yaml" && ext != ".yml" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var rec map[string]any
			if ext == ".json" {
				err = json.Unmarshal(b, &rec)
			} else {
				err = yaml.Unmarshal(b, &rec)
			}
			if err != nil || rec["id"] == nil {
				return nil // not an OSV record (README, schema)
			}
			normalizeTimes(rec)
			js, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			id := fmt.Sprint(rec["id"])
			affected, _ := rec["affected"].([]any)
			for _, a := range affected {
				am, _ := a.(map[string]any)
				pkg, _ := am["package"].(map[string]any)
				eco, _ := pkg["ecosystem"].(string)
				base, _, _ := strings.Cut(eco, ":")
				if base == "" {
					continue
				}
				if byEco[base] == nil {
					byEco[base] = map[string][]byte{}
				}
				byEco[base][id] = js
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	if *empty != "" {
		for _, e := range strings.Split(*empty, ",") {
			if byEco[e] == nil {
				byEco[e] = map[string][]byte{}
			}
		}
	}
	root := filepath.Join(*out, "osv-scanner")
	for eco, recs := range byEco {
		dir := filepath.Join(root, eco)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "all.zip"))
		if err != nil {
			log.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for id, js := range recs {
			w, err := zw.Create(id + ".json")
			if err != nil {
				log.Fatal(err)
			}
			w.Write(js)
		}
		if err := zw.Close(); err != nil {
			log.Fatal(err)
		}
		f.Close()
		fmt.Printf("%s: %d records\n", eco, len(recs))
	}
	link := filepath.Join(*out, "osv-scalibr")
	os.Remove(link)
	if err := os.Symlink("osv-scanner", link); err != nil {
		log.Fatal(err)
	}
}

// normalizeTimes turns YAML timestamps (decoded as time.Time) into RFC 3339
// strings, as the OSV schema wants.
func normalizeTimes(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if t, ok := e.(time.Time); ok {
				x[k] = t.UTC().Format(time.RFC3339)
				continue
			}
			normalizeTimes(e)
		}
	case []any:
		for i, e := range x {
			if t, ok := e.(time.Time); ok {
				x[i] = t.UTC().Format(time.RFC3339)
				continue
			}
			normalizeTimes(e)
		}
	}
}
