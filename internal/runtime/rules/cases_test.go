package rules

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"
)

type caseFile struct {
	Rules []string `yaml:"rules"`
	Cases []struct {
		Name   string         `yaml:"name"`
		Event  map[string]any `yaml:"event"`
		Expect []string       `yaml:"expect"`
	} `yaml:"cases"`
}

// TestCases runs testdata/cases/*.yaml: each document names rules files
// from testdata/falco and lists events with the rules they must fire.
func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files: %v", err)
	}
	total := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(fh)
		for {
			var cf caseFile
			if err := dec.Decode(&cf); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var paths []string
			for _, r := range cf.Rules {
				paths = append(paths, filepath.Join("testdata/falco", r))
			}
			rs := loadFile(t, paths...)
			indexed := NewEngine(rs)
			flat := NewEngine(rs, WithTypeIndex(false))
			for _, c := range cf.Cases {
				total++
				t.Run(filepath.Base(f)+"/"+c.Name, func(t *testing.T) {
					ev, err := NewMapEvent(c.Event)
					if err != nil {
						t.Fatal(err)
					}
					got := alertNames(indexed.Evaluate(ev))
					want := append([]string{}, c.Expect...)
					sort.Strings(want)
					if !slices.Equal(got, want) {
						t.Errorf("fired %q, want %q", got, want)
					}
					if noIndex := alertNames(flat.Evaluate(ev)); !slices.Equal(noIndex, got) {
						t.Errorf("without type index fired %q, with it %q", noIndex, got)
					}
				})
			}
		}
		fh.Close()
	}
	t.Logf("%d rule cases", total)
}

func alertNames(as []Alert) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Rule)
	}
	sort.Strings(out)
	return out
}
