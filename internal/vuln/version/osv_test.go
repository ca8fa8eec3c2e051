package version

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func intro(v string) Event { return Event{Introduced: v} }
func fixed(v string) Event { return Event{Fixed: v} }
func last(v string) Event  { return Event{LastAffected: v} }
func limit(v string) Event { return Event{Limit: v} }

func eco(events ...Event) []Range { return []Range{{Type: RangeEcosystem, Events: events}} }

func TestAffected(t *testing.T) {
	tests := []struct {
		name     string
		eco      string
		ranges   []Range
		versions []string
		in, out  []string // affected and not affected versions
	}{
		{
			name: "introduced 0, fixed", eco: "npm",
			ranges: eco(intro("0"), fixed("1.2.3")),
			in:     []string{"0.0.1", "1.2.2", "1.2.3-rc.1"},
			out:    []string{"1.2.3", "1.2.4", "2.0.0"},
		},
		{
			name: "introduced, fixed", eco: "PyPI",
			ranges: eco(intro("1.0"), fixed("1.5.2")),
			in:     []string{"1.0", "1.0.post1", "1.5.1", "1.5.2rc1"},
			out:    []string{"0.9", "1.0rc1", "1.5.2", "2.0"},
		},
		{
			name: "last_affected is inclusive", eco: "Maven",
			ranges: eco(intro("2.0"), last("2.14.1")),
			in:     []string{"2.0", "2.14.1", "2.14.1.0"},
			out:    []string{"1.9", "2.14.2", "2.15.0", "2.14.1-sp1"},
		},
		{
			name: "introduced with no end", eco: "Go",
			ranges: eco(intro("1.4.0")),
			in:     []string{"1.4.0", "v9.0.0"},
			out:    []string{"1.3.9", "v1.4.0-rc.1"},
		},
		{
			name: "several introduced/fixed pairs", eco: "Debian:12",
			ranges: eco(intro("0"), fixed("1.0-3"), intro("2.0-1"), fixed("2.0-5"), intro("3.0-1"), fixed("3.0-2")),
			in:     []string{"0.9-1", "1.0-2", "2.0-1", "2.0-4", "3.0-1"},
			out:    []string{"1.0-3", "1.5-1", "2.0-5", "2.9-1", "3.0-2", "4.0-1"},
		},
		{
			name: "unsorted events", eco: "Debian",
			ranges: eco(fixed("3.0-2"), intro("2.0-1"), fixed("1.0-3"), intro("3.0-1"), intro("0"), fixed("2.0-5")),
			in:     []string{"0.9-1", "1.0-2", "2.0-1", "2.0-4", "3.0-1"},
			out:    []string{"1.0-3", "1.5-1", "2.0-5", "2.9-1", "3.0-2", "4.0-1"},
		},
		{
			name: "limit", eco: "crates.io",
			ranges: eco(intro("1.0.0"), limit("1.5.0")),
			in:     []string{"1.0.0", "1.4.9"},
			out:    []string{"0.9.0", "1.5.0", "2.0.0"},
		},
		{
			name: "limit star", eco: "npm",
			ranges: eco(intro("1.0.0"), limit("*")),
			in:     []string{"1.0.0", "9.9.9"},
			out:    []string{"0.9.0"},
		},
		{
			name: "several limits: below any", eco: "npm",
			ranges: eco(intro("1.0.0"), limit("1.5.0"), limit("3.0.0")),
			in:     []string{"1.0.0", "2.0.0"},
			out:    []string{"3.0.0"},
		},
		{
			name: "versions list only", eco: "PyPI",
			ranges:   nil,
			versions: []string{"1.0", "1.1"},
			in:       []string{"1.0", "1.1"},
			out:      []string{"1.0.0", "1.2", "0.9"},
		},
		{
			name: "versions list and range", eco: "PyPI",
			ranges:   eco(intro("2.0"), fixed("2.1")),
			versions: []string{"1.5"},
			in:       []string{"1.5", "2.0"},
			out:      []string{"1.6", "2.1"},
		},
		{
			name: "GIT ranges ignored", eco: "Go",
			ranges: []Range{{Type: RangeGit, Events: []Event{intro("0"), fixed("abc123")}}},
			out:    []string{"1.0.0", "v0.0.1"},
		},
		{
			name: "GIT and SEMVER ranges", eco: "Go",
			ranges: []Range{
				{Type: RangeGit, Events: []Event{intro("deadbeef"), fixed("abc123")}},
				{Type: RangeSemVer, Events: []Event{intro("0"), fixed("1.20.12"), intro("1.21.0-0"), fixed("1.21.5")}},
			},
			in:  []string{"go1.20.11", "1.21.0-rc.1", "go1.21.4"},
			out: []string{"go1.20.12", "go1.21.5", "v1.22.0"},
		},
		{
			name: "several ranges", eco: "npm",
			ranges: []Range{
				{Type: RangeSemVer, Events: []Event{intro("1.0.0"), fixed("1.0.5")}},
				{Type: RangeSemVer, Events: []Event{intro("2.0.0"), fixed("2.0.1")}},
			},
			in:  []string{"1.0.4", "2.0.0"},
			out: []string{"1.0.5", "1.9.9", "2.0.1"},
		},
		{
			name: "introduced and fixed at the same version", eco: "npm",
			ranges: eco(fixed("1.0.0"), intro("1.0.0")),
			out:    []string{"0.9.0", "1.0.0", "1.1.0"},
		},
		{
			name: "introduced and last_affected at the same version", eco: "npm",
			ranges: eco(last("1.0.0"), intro("1.0.0")),
			in:     []string{"1.0.0"},
			out:    []string{"0.9.0", "1.0.1"},
		},
		{
			name: "empty range", eco: "npm",
			ranges: eco(),
			out:    []string{"1.0.0"},
		},
		{
			name: "apk fixed in revision", eco: "Alpine:v3.19",
			ranges: eco(intro("0"), fixed("3.1.4-r5")),
			in:     []string{"3.1.4-r4", "3.1.4_rc1-r9"},
			out:    []string{"3.1.4-r5", "3.1.4_p1-r0"},
		},
		{
			name: "rpm epoch", eco: "Red Hat",
			ranges: eco(intro("0"), fixed("1:1.1.1k-9.el8_7")),
			in:     []string{"1:1.1.1k-7.el8_6", "3.0.7-1.el8"},
			out:    []string{"1:1.1.1k-9.el8_7", "1:3.0.7-1.el8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmp, err := ForEcosystem(tt.eco)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []bool{true, false} {
				vs := tt.in
				if !want {
					vs = tt.out
				}
				for _, v := range vs {
					got, err := Affected(cmp, v, tt.ranges, tt.versions)
					if err != nil || got != want {
						t.Errorf("Affected(%q) = %v, %v; want %v", v, got, err, want)
					}
				}
			}
		})
	}
}

func TestAffectedErrors(t *testing.T) {
	npm, _ := ForEcosystem("npm")
	deb, _ := ForEcosystem("Debian:12")
	tests := []struct {
		name    string
		cmp     Comparer
		version string
		ranges  []Range
		is      error
		mention []string
	}{
		{"invalid version", npm, "1.0", eco(intro("0"), fixed("1.2.3")), ErrInvalidVersion, []string{`"1.0"`, "npm"}},
		{"invalid version, GIT only", npm, "latest", []Range{{Type: RangeGit}}, ErrInvalidVersion, []string{`"latest"`, "npm"}},
		{"invalid fixed", deb, "1.0-1", eco(intro("0"), fixed("a.b")), ErrInvalidVersion, []string{`"a.b"`, "Debian:12"}},
		{"invalid introduced, only event", deb, "1.0-1", eco(intro("~x")), ErrInvalidVersion, []string{`"~x"`}},
		{"invalid event above the version", deb, "1.0-1", eco(intro("0"), fixed("2.0"), intro("3.0"), fixed("bad!")), ErrInvalidVersion, []string{`"bad!"`}},
		{"invalid limit", npm, "0.1.0", eco(intro("1.0.0"), limit("x")), ErrInvalidVersion, []string{`"x"`}},
		{"unknown range type", npm, "1.0.0", []Range{{Type: "CALVER"}}, ErrMalformedRange, []string{"CALVER"}},
		{"empty event", npm, "1.0.0", eco(intro("0"), Event{}), ErrMalformedRange, nil},
		{"event with two fields", npm, "1.0.0", eco(Event{Introduced: "0", Fixed: "1.0.0"}), ErrMalformedRange, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Affected(tt.cmp, tt.version, tt.ranges, nil)
			if got || !errors.Is(err, tt.is) {
				t.Fatalf("Affected = %v, %v; want false and %v", got, err, tt.is)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
}

func TestFixedVersions(t *testing.T) {
	ranges := []Range{
		{Type: RangeGit, Events: []Event{intro("0"), fixed("abc123")}},
		{Type: RangeEcosystem, Events: []Event{intro("0"), fixed("1.2.3"), intro("2.0.0"), fixed("2.0.4")}},
		{Type: RangeSemVer, Events: []Event{intro("0"), fixed("1.2.3"), last("3.0.0")}},
	}
	if got, want := FixedVersions(ranges), []string{"1.2.3", "2.0.4"}; !slices.Equal(got, want) {
		t.Errorf("FixedVersions = %q, want %q", got, want)
	}
	if got := FixedVersions(nil); got != nil {
		t.Errorf("FixedVersions(nil) = %q, want nil", got)
	}
}
