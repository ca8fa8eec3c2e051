package version

import (
	"errors"
	"fmt"
	"strings"
)

// Comparer orders the versions of one ecosystem.
type Comparer interface {
	// Compare returns -1, 0 or +1 as a sorts before, equal to or after b.
	// It returns an error wrapping ErrInvalidVersion if either is invalid.
	Compare(a, b string) (int, error)
	// Valid returns nil if v is a version this ecosystem can order.
	Valid(v string) error
}

var (
	// ErrInvalidVersion is wrapped by every error about a version string
	// that an ecosystem cannot parse.
	ErrInvalidVersion = errors.New("invalid version")
	// ErrUnsupportedEcosystem is returned by ForEcosystem for ecosystems
	// without a known version ordering.
	ErrUnsupportedEcosystem = errors.New("unsupported ecosystem")
)

// VersionError reports a version string that an ecosystem cannot parse.
// errors.Is(err, ErrInvalidVersion) holds for it.
type VersionError struct {
	Ecosystem string
	Version   string
	Err       error // the parser's reason, if it gave one
}

func (e *VersionError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: invalid version %q", e.Ecosystem, e.Version)
	}
	return fmt.Sprintf("%s: invalid version %q: %v", e.Ecosystem, e.Version, e.Err)
}

// Unwrap exposes both ErrInvalidVersion and the parser's reason.
func (e *VersionError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidVersion}
	}
	return []error{ErrInvalidVersion, e.Err}
}

func invalid(eco, v string, reason error) error {
	return &VersionError{Ecosystem: eco, Version: v, Err: reason}
}

// family names one version ordering shared by several OSV ecosystems.
type family int

const (
	famDeb family = iota
	famAPK
	famRPM
	famPyPI
	famMaven
	famGem
	famSemVer
	famPub
	famNuGet
	famGo
	famPackagist
)

// ecosystems maps an OSV ecosystem name (the part before the first ':') to
// its ordering. See https://ossf.github.io/osv-schema/#affectedpackage-field.
var ecosystems = map[string]family{
	"Debian": famDeb,
	"Ubuntu": famDeb,

	"Alpine":                       famAPK,
	"Alpaquita":                    famAPK,
	"BellSoft Hardened Containers": famAPK,
	"Chainguard":                   famAPK,
	"MinimOS":                      famAPK,
	"Wolfi":                        famAPK,

	"AlmaLinux":   famRPM,
	"Azure Linux": famRPM,
	"Mageia":      famRPM,
	"openEuler":   famRPM,
	"openSUSE":    famRPM,
	"Photon OS":   famRPM,
	"Red Hat":     famRPM,
	"Rocky Linux": famRPM,
	"SUSE":        famRPM,

	"PyPI":      famPyPI,
	"Maven":     famMaven,
	"RubyGems":  famGem,
	"Packagist": famPackagist,
	"NuGet":     famNuGet,
	"Pub":       famPub,

	"npm":       famSemVer,
	"crates.io": famSemVer,
	"Hex":       famSemVer,
	"SwiftURL":  famSemVer,
	"Bitnami":   famSemVer,

	"Go": famGo,
}

// ForEcosystem returns the Comparer for an OSV ecosystem name. A ":<release>"
// suffix ("Debian:12", "Ubuntu:22.04:LTS", "Maven:https://...") does not
// change the ordering and is accepted; "Root:<ecosystem>:..." resolves to the
// inner ecosystem. Error messages name eco as given.
func ForEcosystem(eco string) (Comparer, error) {
	base, rest, _ := strings.Cut(eco, ":")
	if base == "Root" && rest != "" {
		// Root:Alpine:3.18, Root:PyPI: patched builds of another ecosystem.
		inner, _, _ := strings.Cut(rest, ":")
		base = inner
	}
	fam, ok := ecosystems[base]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedEcosystem, eco)
	}
	switch fam {
	case famDeb:
		return debComparer{eco}, nil
	case famAPK:
		return apkComparer{eco}, nil
	case famRPM:
		return rpmComparer{eco}, nil
	case famPyPI:
		return pep440Comparer{eco}, nil
	case famMaven:
		return mavenComparer{eco}, nil
	case famGem:
		return gemComparer{eco}, nil
	case famSemVer:
		return semverComparer{eco}, nil
	case famPub:
		return pubComparer{eco}, nil
	case famNuGet:
		return nugetComparer{eco}, nil
	case famGo:
		return goComparer{eco}, nil
	case famPackagist:
		return packagistComparer{eco}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedEcosystem, eco)
}

// sign folds a library's difference into -1, 0 or +1.
func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// compareWith parses both versions with parse and compares them with cmp.
// A panic inside a third-party parser or comparison becomes an error naming
// both versions rather than taking the scan down.
func compareWith[T any](eco, a, b string, parse func(string) (T, error), cmp func(T, T) int) (c int, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = 0, fmt.Errorf("%s: comparing %q with %q: %w: library panic: %v", eco, a, b, ErrInvalidVersion, r)
		}
	}()
	va, err := parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := parse(b)
	if err != nil {
		return 0, err
	}
	return sign(cmp(va, vb)), nil
}

// checkCommon rejects what no ecosystem accepts: empty strings, spaces and
// control characters. Library parsers differ in how they treat these and
// some trim silently.
func checkCommon(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("whitespace or control character at byte %d", i)
		}
	}
	return nil
}

// maxDigits bounds a run of digits in libraries that parse numbers into
// int: longer runs would overflow and be silently misordered.
const maxDigits = 18

func checkDigitRuns(v string) error {
	run := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			run++
			if run > maxDigits {
				return fmt.Errorf("number longer than %d digits", maxDigits)
			}
		} else {
			run = 0
		}
	}
	return nil
}

func checkASCII(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return fmt.Errorf("non-ASCII byte at %d", i)
		}
	}
	return nil
}
