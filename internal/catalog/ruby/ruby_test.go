package ruby

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

var (
	_ catalog.Cataloger = (*GemfileLockCataloger)(nil)
	_ catalog.Cataloger = (*GemspecCataloger)(nil)
)

func TestWants(t *testing.T) {
	tests := []struct {
		c    catalog.Cataloger
		path string
		want bool
	}{
		{NewGemfileLock(), "/app/Gemfile.lock", true},
		{NewGemfileLock(), "/app/Gemfile.next.lock", true},
		{NewGemfileLock(), "/app/Gemfile", false},
		{NewGemfileLock(), "/app/myGemfile.lock", false},
		{NewGemspec(), "/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", true},
		{NewGemspec(), "/usr/lib/ruby/gems/3.1.0/specifications/default/fileutils-1.6.0.gemspec", true},
		{NewGemspec(), "/src/rake/rake.gemspec", false},
		{NewGemspec(), "/usr/lib/ruby/gems/3.1.0/specifications/README", false},
	}
	for _, tt := range tests {
		if got := tt.c.Wants(tt.path, 0o644); got != tt.want {
			t.Errorf("%s.Wants(%q) = %v, want %v", tt.c.Name(), tt.path, got, tt.want)
		}
	}
	if NewGemfileLock().Wants("/app/Gemfile.lock", os.ModeDir) {
		t.Error("wants a directory")
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		c    catalog.Cataloger
	}{
		{"gemfile-lock", NewGemfileLock()},
		{"gemspec", NewGemspec()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := catalogtest.Run(t, tt.c, filepath.Join("testdata", "root"))
			if len(pkgs) == 0 {
				t.Fatal("no packages")
			}
			catalogtest.Golden(t, filepath.Join("testdata", "golden", tt.name+".json"), pkgs)
		})
	}
}

func TestGemfileLockDetails(t *testing.T) {
	lock := `GIT
  remote: https://github.com/x/y.git
  revision: 0123
  specs:
    y (0.1.0)
      rack (>= 2)

PATH
  remote: .
  specs:
    local-gem (2.0.0)

GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.18.6-x86_64-linux-gnu)
      racc (~> 1.4)
    rack (3.0.0)
    weird line here

PLATFORMS
  x86_64-linux-gnu

DEPENDENCIES
  nokogiri
  notapkg (1.0)

BUNDLED WITH
   2.5.6
`
	pkgs, err := parseGemfileLock(strings.NewReader(lock), "x")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sbom.Package{}
	for _, p := range pkgs {
		got[p.Name] = p
	}
	want := map[string]string{
		"y":         "pkg:gem/y@0.1.0",
		"local-gem": "pkg:gem/local-gem@2.0.0",
		"nokogiri":  "pkg:gem/nokogiri@1.18.6?platform=x86_64-linux-gnu",
		"rack":      "pkg:gem/rack@3.0.0",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d packages %v, want %d", len(got), pkgs, len(want))
	}
	for n, purl := range want {
		if got[n].PURL != purl {
			t.Errorf("%s: purl %q, want %q", n, got[n].PURL, purl)
		}
	}
	if v := got["nokogiri"].Version; v != "1.18.6-x86_64-linux-gnu" {
		t.Errorf("nokogiri version %q (Syft keeps the platform in the version)", v)
	}
	if s := got["local-gem"].Metadata["source"]; s != "path" {
		t.Errorf("local-gem source %q", s)
	}
}

func TestGemspecDetails(t *testing.T) {
	tests := []struct {
		name, in string
		want     *sbom.Package
	}{
		{
			name: "rubygems to_ruby",
			in: `# -*- encoding: utf-8 -*-
# stub: nokogiri 1.18.6 x86_64-linux-gnu lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.18.6"
  s.platform = "x86_64-linux-gnu".freeze
  s.authors = ["Andr\u00E9 Arko".freeze, nil]
  s.homepage = "https://nokogiri.org".freeze
  s.licenses = ["MIT".freeze, "Apache-2.0".freeze]
  s.metadata = { "x.name" => "no" } if s.respond_to? :metadata=
end
`,
			want: &sbom.Package{Name: "nokogiri", Version: "1.18.6", PURL: "pkg:gem/nokogiri@1.18.6?platform=x86_64-linux-gnu",
				Licenses: []string{"MIT", "Apache-2.0"}, Metadata: map[string]string{"platform": "x86_64-linux-gnu", "homepage": "https://nokogiri.org"}},
		},
		{
			name: "hand written, multi-line list",
			in: `Gem::Specification.new do |spec|
  spec.name    = 'my_gem'
  spec.version = '0.2.0'
  spec.license = 'BSD-3-Clause'
  spec.licenses = [
    "Ruby",
  ]
end
`,
			want: &sbom.Package{Name: "my_gem", Version: "0.2.0", PURL: "pkg:gem/my_gem@0.2.0", Licenses: []string{"BSD-3-Clause", "Ruby"}},
		},
		{
			name: "computed version",
			in: `Gem::Specification.new do |s|
  s.name = "x"
  s.version = X::VERSION
end
`,
		},
		{
			name: "escapes",
			in: `s.name = "a\"b\u{263A}".freeze
s.version = "1"
`,
			want: &sbom.Package{Name: "a\"b\u263a", Version: "1", PURL: "pkg:gem/a%22b%E2%98%BA@1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parseGemspec(strings.NewReader(tt.in), "x")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if len(pkgs) != 0 {
					t.Fatalf("got %+v, want nothing", pkgs)
				}
				return
			}
			if len(pkgs) != 1 {
				t.Fatalf("got %d packages", len(pkgs))
			}
			w := *tt.want
			w.Type, w.Language, w.FoundBy = sbom.TypeGem, "ruby", "x"
			if !reflect.DeepEqual(pkgs[0], w) {
				t.Errorf("got  %+v\nwant %+v", pkgs[0], w)
			}
		})
	}
}

func TestLongLineIsError(t *testing.T) {
	long := strings.Repeat("a", maxLine+1)
	if _, err := parseGemspec(strings.NewReader(long), "x"); err == nil {
		t.Error("gemspec: no error")
	}
	if _, err := parseGemfileLock(strings.NewReader(long), "x"); err == nil {
		t.Error("Gemfile.lock: no error")
	}
}

// TestRecallAgainstSyft checks that every (name, version) Syft 1.57.1
// reported for the shared Gemfile.lock fixtures is reported here too.
func TestRecallAgainstSyft(t *testing.T) {
	catalogtest.ExactRecallVsSyft(t, NewGemfileLock(), catalogtest.SharedData(t, "lockfiles", "ruby"))
}

func FuzzParseGemfileLock(f *testing.F) {
	f.Add([]byte("GEM\n  specs:\n    a (1.0-x86_64-linux)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = NewGemfileLock().Parse(context.Background(), catalogtest.NewInput("/Gemfile.lock", data))
	})
}

func FuzzParseGemspec(f *testing.F) {
	f.Add([]byte("s.name = \"a\\u00e9\".freeze\ns.version = '1'\ns.licenses = [\"MIT\",\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = NewGemspec().Parse(context.Background(), catalogtest.NewInput("/specifications/a.gemspec", data))
	})
}
