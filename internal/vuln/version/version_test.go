package version

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// orderingCase lists, for one ecosystem, versions that must sort strictly
// ascending (every pair in a chain is checked both ways), versions that
// must compare equal, and strings that must be rejected.
type orderingCase struct {
	eco     string
	chains  [][]string
	equal   [][2]string
	invalid []string
}

var orderingCases = []orderingCase{
	{
		eco: "Debian:12",
		chains: [][]string{
			{"1.0~rc1", "1.0", "1.0+b1"},
			{"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+", "1.0."},
			{"1.0-1~bpo", "1.0-1", "1.0-1+deb12u1"},
			{"2.38.1-5+deb12u1", "2.38.1-5+deb12u2", "2.38.1-6"},
			{"2.0", "1:0.1", "2:0.0.1"},
			{"1.2.3", "1.2.10", "1.10.0"},
			{"0.0~git20230101.1", "0.0~git20230102.1", "0.0.1"},
		},
		equal:   [][2]string{{"1.0", "0:1.0"}, {"1.0-1", "0:1.0-1"}, {"1.01", "1.1"}},
		invalid: []string{"", "a1.0", "1.0 ", "-1:1.0", "x:1.0", "1.0-ä", "1.0@", "1.0-1!", "1.1234567890123456789"},
	},
	{
		eco: "Ubuntu:22.04:LTS",
		chains: [][]string{
			{"1.2.3-1ubuntu1", "1.2.3-1ubuntu1.1", "1.2.3-1ubuntu2", "1.2.3-2"},
			{"2.35-0ubuntu3~22.04", "2.35-0ubuntu3"},
		},
	},
	{
		eco: "Alpine:v3.19",
		chains: [][]string{
			{"1.2.3_rc1", "1.2.3", "1.2.3-r1", "1.2.3_p1"},
			{"1.2.3_alpha", "1.2.3_beta", "1.2.3_pre", "1.2.3_rc", "1.2.3", "1.2.3_cvs", "1.2.3_svn", "1.2.3_git", "1.2.3_hg", "1.2.3_p"},
			{"1.2.3-r0", "1.2.3-r1", "1.2.3-r10"},
			{"1.2", "1.2a", "1.2b", "1.2.1", "1.10"},
			{"3.0.13-r0", "3.0.14-r0", "3.1.4-r0"},
		},
		equal:   [][2]string{{"1.2.3-r0", "1.2.3-r0"}},
		invalid: []string{"", "abc", "1.2.3-rx", "1.2.3_foo", "1.2.3 ", "1.2.3-x1", "1.1234567890123456789"},
	},
	{
		eco: "Red Hat:rhel_aus:8.4::appstream",
		chains: [][]string{
			{"1.0~rc1", "1.0", "1.0^post1", "1.0.1"},
			{"1.0~rc1", "1.0~rc2", "1.0"},
			{"1.0^", "1.0^git1", "1.0.1"},
			{"1.0-1", "1.0-1.el8", "1.0-2.el8", "1.0-10.el8"},
			{"9.9-9", "1:0.1-1", "2:0.0-0"},
			{"1.0a", "1.0b", "1.0.0", "1.0.1", "1.1"},
			{"2.28-151.el8", "2.28-151.el8_7.1", "2.28-225.el8"},
		},
		equal:   [][2]string{{"1.0-1", "0:1.0-1"}, {"1.01", "1.1"}, {"1.0_1", "1.0.1"}},
		invalid: []string{"", "x:1.0", ":1.0", "1.0-1-1", "1:2:3", "1.0-", "-1", "1.0 ", "1.0-ä"},
	},
	{eco: "AlmaLinux:9", chains: [][]string{{"4.4.20-1.el9", "4.4.20-1.el9_1.1"}}},
	{eco: "Rocky Linux:9", chains: [][]string{{"1:1.1.1k-7.el8_6", "1:1.1.1k-9.el8_7"}}},
	{eco: "openSUSE", chains: [][]string{{"2.31-150300.46.1", "2.31-150300.52.2"}}},
	{eco: "SUSE", chains: [][]string{{"1.0~beta1-1", "1.0-1"}}},
	{
		eco: "PyPI",
		chains: [][]string{
			{"1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0.post1.dev1", "1.0.post1", "1.1"},
			{"1.0", "1.0+local", "1.0+local.1", "1.0.post1"},
			{"2.0", "1!0.1"},
			{"0.9", "0.10", "1.0"},
		},
		equal: [][2]string{
			{"1.0-alpha1", "1.0a1"}, {"1.0.0", "1.0"}, {"1.0RC1", "1.0rc1"}, {"1.0c1", "1.0rc1"},
			{"1.0-1", "1.0.post1"}, {"v1.0", "1.0"}, {"1.0.dev", "1.0.dev0"}, {"1.0-beta.2", "1.0b2"},
		},
		invalid: []string{"", "foo", "1.0.0-bogus", "1..0", "1.0 ", "==1.0"},
	},
	{
		eco: "Maven",
		chains: [][]string{
			{"1.0-alpha-1", "1.0-beta", "1.0-milestone-1", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp1"},
			{"1.0-alpha1", "1.0-alpha2", "1.0-alpha10", "1.0-beta1"},
			{"1.0", "1.0.1", "1.1", "1.10", "2"},
			{"1.0-a1", "1.0-b1", "1.0-m1", "1.0-cr1"},
			{"2.17.0", "2.17.1", "2.17.2"},
		},
		equal: [][2]string{
			{"1.0.0", "1"}, {"1.0", "1.0.0"}, {"1.0-ga", "1.0"}, {"1.0-final", "1.0"},
			{"1.0-RC1", "1.0-rc1"}, {"1.0-CR1", "1.0-rc1"}, {"1.0-a1", "1.0-alpha-1"},
		},
		invalid: []string{"", "1.0 beta", "1.12345678901234567890"},
	},
	{
		eco: "RubyGems",
		chains: [][]string{
			{"1.0.0.pre", "1.0.0.rc1", "1.0.0", "1.0.1"},
			{"1.0.a", "1.0.b", "1.0"},
			{"1.0.0-rc1", "1.0.0"},
			{"0.9", "0.10", "1.0"},
			{"1.0.a1", "1.0.a2", "1.0.a10", "1.0.b1"},
		},
		equal:   [][2]string{{"1.0", "1.0.0"}, {"1", "1.0.0.0"}},
		invalid: []string{"", "junk", "1.0 2", "1..0", "1.12345678901234567890"},
	},
	{
		eco: "npm",
		chains: [][]string{
			{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
			{"1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"},
			{"1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-a"},
			{"1.0.0-rc.1", "1.0.0-rc.1.1"},
			{"1.0.0-99999999999999999998", "1.0.0-99999999999999999999", "1.0.0-100000000000000000000", "1.0.0"},
		},
		equal: [][2]string{
			{"1.0.0+build.1", "1.0.0"}, {"1.0.0+a", "1.0.0+b"}, {"1.0.0-rc.1+x", "1.0.0-rc.1"}, {"v1.2.3", "1.2.3"},
		},
		invalid: []string{"", "1.0", "1", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b", "latest", "1.0.0 ", "=1.0.0"},
	},
	{eco: "crates.io", chains: [][]string{{"0.1.0", "0.1.1-alpha.1", "0.1.1", "0.2.0"}}, invalid: []string{"0.1"}},
	{eco: "Hex", chains: [][]string{{"1.0.0-rc.0", "1.0.0"}}},
	{
		eco: "Pub",
		chains: [][]string{
			{"1.0.0-dev", "1.0.0", "1.0.0+1", "1.0.0+2", "1.0.0+10", "1.0.0+a", "1.0.1"},
			{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0"},
			{"1.0.0+1", "1.0.0+1.1"},
		},
		invalid: []string{"1.0", "1.0.0+"},
	},
	{
		eco: "NuGet",
		chains: [][]string{
			{"1.0.0", "1.0.0.1", "1.0.1", "1.1"},
			{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
			// SemVer 1 style labels compare as strings: beta10 < beta2.
			{"1.0.0-beta1", "1.0.0-beta10", "1.0.0-beta2"},
			{"1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-a"},
			{"4.7.0", "4.7.1", "4.10.0", "13.0.1"},
		},
		equal: [][2]string{
			{"1.0", "1.0.0"}, {"1", "1.0.0.0"}, {"1.01", "1.1"}, {"1.0.0-Beta", "1.0.0-beta"},
			{"1.0.0-RC.1", "1.0.0-rc.1"}, {"1.0.0+build", "1.0.0"}, {"1.0.0.0-a+b", "1.0-A"},
		},
		invalid: []string{"", "1.0.0.0.0", "1.a", "1.0.0-", "1.0.0-a..b", "1.0.0+", "1.0.0-a_b", "v1.0.0", ".1", "1..0"},
	},
	{
		eco: "Go",
		chains: [][]string{
			{"v1.2.3", "v1.2.4-0.20200101000000-abcdef123456", "v1.2.4-0.20200102000000-abcdef123456", "v1.2.4"},
			{"v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-abcdef123456", "v0.0.1"},
			{"v1.2.3-pre", "v1.2.3-pre.0.20200101000000-abcdef123456", "v1.2.3"},
			{"1.20.12", "1.21.0-0", "1.21.0-rc.1", "1.21.0", "1.21.3"},
			{"go1.20.12", "go1.21rc2", "go1.21", "go1.21.1", "v1.21.2"},
			{"go1.9beta1", "go1.9rc2", "go1.9", "go1.9.1", "go1.10"},
			{"v1.9.9", "v2.0.0+incompatible", "v2.0.1"},
		},
		equal: [][2]string{
			{"v1.2.3", "1.2.3"}, {"go1.21.0", "v1.21.0"}, {"go1.21", "1.21.0"}, {"go1", "v1.0.0"},
			{"v2.0.0+incompatible", "v2.0.0"}, {"go1.21rc2", "v1.21.0-rc.2"},
		},
		invalid: []string{"", "(devel)", "v1.2.3.4", "go1.21x", "go", "go1.", "golang", "v1.2.3-", "1.2.3 "},
	},
	{
		eco: "Packagist",
		chains: [][]string{
			{"1.0.0-dev", "1.0.0-alpha1", "1.0.0-beta", "1.0.0-beta1", "1.0.0-beta2", "1.0.0-RC1", "1.0.0", "1.0.0-p1", "1.0.0.1", "1.0.1"},
			{"1.0.0-alpha1-dev", "1.0.0-alpha1", "1.0.0-alpha2"},
			{"2.9.9", "2.10.0", "10.0.0"},
			{"v5.4.21", "5.4.22", "v6.0.0-BETA1", "6.0.0"},
			{"20230101", "20230102", "2023010201"},
			{"123456.0", "123456.1"},
			{"1.0.0-beta.1", "1.0.0-beta.2", "1.0.0-beta.10"},
		},
		equal: [][2]string{
			{"1.0", "1.0.0"}, {"v1.0.0", "1.0.0.0"}, {"1.0.0-b1", "1.0.0-beta1"}, {"1.0-a1", "1.0.0-alpha1"},
			{"1.0.0-rc1", "1.0.0-RC1"}, {"1.0.0-pl1", "1.0.0-patch1"}, {"1.0.0+build", "1.0.0"},
			{"1.0.0-stable", "1.0.0"}, {"1.0.0-beta.1", "1.0.0-beta1"}, {"1.0.0_beta1", "1.0.0-beta1"},
		},
		invalid: []string{"", "dev-main", "dev-master", "1.0.0-foo", "1.2.3.4.5", "latest", "1.0.0 ", "12345.6.7.8.9", "1.0.0-beta1-"},
	},
}

func TestOrdering(t *testing.T) {
	for _, tc := range orderingCases {
		t.Run(tc.eco, func(t *testing.T) {
			cmp, err := ForEcosystem(tc.eco)
			if err != nil {
				t.Fatal(err)
			}
			for _, chain := range tc.chains {
				for i := range chain {
					for j := range chain {
						want := sign(i - j)
						got, err := cmp.Compare(chain[i], chain[j])
						if err != nil {
							t.Errorf("Compare(%q, %q): %v", chain[i], chain[j], err)
						} else if got != want {
							t.Errorf("Compare(%q, %q) = %d, want %d", chain[i], chain[j], got, want)
						}
					}
				}
			}
			for _, p := range tc.equal {
				for _, q := range [][2]string{p, {p[1], p[0]}} {
					if got, err := cmp.Compare(q[0], q[1]); err != nil || got != 0 {
						t.Errorf("Compare(%q, %q) = %d, %v; want 0", q[0], q[1], got, err)
					}
				}
			}
			for _, v := range tc.invalid {
				checkInvalid(t, tc.eco, cmp, v)
			}
		})
	}
}

func checkInvalid(t *testing.T, eco string, cmp Comparer, v string) {
	t.Helper()
	err := cmp.Valid(v)
	if err == nil {
		t.Errorf("Valid(%q) = nil, want error", v)
		return
	}
	if !errors.Is(err, ErrInvalidVersion) {
		t.Errorf("Valid(%q) = %v, does not wrap ErrInvalidVersion", v, err)
	}
	if msg := err.Error(); !strings.Contains(msg, strconv.Quote(v)) || !strings.Contains(msg, eco) {
		t.Errorf("Valid(%q) = %q, want the version and %q named", v, msg, eco)
	}
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Version != v || ve.Ecosystem != eco {
		t.Errorf("Valid(%q) = %#v, want a *VersionError for it", v, err)
	}
	for _, pair := range [][2]string{{v, "1.0.0"}, {"1.0.0", v}} {
		if _, err := cmp.Compare(pair[0], pair[1]); !errors.Is(err, ErrInvalidVersion) || !strings.Contains(err.Error(), strconv.Quote(v)) {
			t.Errorf("Compare(%q, %q) error = %v, want one naming %q", pair[0], pair[1], err, v)
		}
	}
}

func TestForEcosystem(t *testing.T) {
	for _, eco := range []string{
		"Debian", "Debian:12", "Ubuntu", "Ubuntu:22.04:LTS", "Ubuntu:Pro:18.04:LTS", "Alpine", "Alpine:v3.19",
		"AlmaLinux:9", "Rocky Linux:9", "Red Hat", "Red Hat:rhel_aus:8.4::appstream", "openSUSE", "SUSE",
		"SUSE:Linux Enterprise Server 15 SP5", "Go", "npm", "PyPI", "Maven", "Maven:https://maven.google.com",
		"RubyGems", "Packagist", "Packagist:https://packages.drupal.org/8", "NuGet", "crates.io", "Hex", "Pub",
		"Wolfi", "Chainguard", "Photon OS:5.0", "Azure Linux:3", "Root:Alpine:3.18", "Root:PyPI",
	} {
		if _, err := ForEcosystem(eco); err != nil {
			t.Errorf("ForEcosystem(%q): %v", eco, err)
		}
	}
	for _, eco := range []string{"", "GIT", "Linux", "debian", "Android", "Root", "Root:Nope", "OSS-Fuzz"} {
		if _, err := ForEcosystem(eco); !errors.Is(err, ErrUnsupportedEcosystem) {
			t.Errorf("ForEcosystem(%q) error = %v, want ErrUnsupportedEcosystem", eco, err)
		}
	}
	// The release suffix does not change the ordering.
	a, _ := ForEcosystem("Debian")
	b, _ := ForEcosystem("Debian:12")
	ra, _ := a.Compare("1.0~rc1", "1.0")
	rb, _ := b.Compare("1.0~rc1", "1.0")
	if ra != rb || ra != -1 {
		t.Errorf("Debian and Debian:12 disagree: %d, %d", ra, rb)
	}
}
