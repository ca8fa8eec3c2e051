package advisory

import (
	"fmt"
	"math"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// maxVectorLen bounds the input handed to the CVSS parser; the longest valid
// v4.0 vector with every metric is well under 300 bytes.
const maxVectorLen = 512

// ParseCVSS parses a CVSS v2, v3.0, v3.1 or v4.0 vector and returns the
// Severity type it belongs to (SeverityCVSSv2, v3 or v4) and its base score
// (for v4, the CVSS-B score, or CVSS-BT/BE/BTE when the vector carries threat
// or environmental metrics). v2 vectors may carry a "CVSS:2.0/" prefix or be
// wrapped in parentheses, as NVD sometimes prints them.
func ParseCVSS(vector string) (typ string, score float64, err error) {
	defer func() {
		// The parser is third-party code fed with untrusted input: a panic
		// there must become a record error, not kill the import.
		if r := recover(); r != nil {
			typ, score, err = "", 0, fmt.Errorf("%w: %q: parser panic: %v", ErrBadVector, vector, r)
		}
	}()
	v := strings.TrimSpace(vector)
	if len(v) > maxVectorLen {
		return "", 0, fmt.Errorf("%w: vector of %d bytes", ErrBadVector, len(v))
	}
	switch {
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, perr := gocvss40.ParseVector(v)
		if perr != nil {
			return "", 0, fmt.Errorf("%w: %q: %v", ErrBadVector, vector, perr)
		}
		typ, score = SeverityCVSSv4, c.Score()
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, perr := gocvss31.ParseVector(v)
		if perr != nil {
			return "", 0, fmt.Errorf("%w: %q: %v", ErrBadVector, vector, perr)
		}
		typ, score = SeverityCVSSv3, c.BaseScore()
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c, perr := gocvss30.ParseVector(v)
		if perr != nil {
			return "", 0, fmt.Errorf("%w: %q: %v", ErrBadVector, vector, perr)
		}
		typ, score = SeverityCVSSv3, c.BaseScore()
	default:
		v2 := strings.TrimPrefix(v, "CVSS:2.0/")
		if strings.HasPrefix(v2, "(") && strings.HasSuffix(v2, ")") {
			v2 = v2[1 : len(v2)-1]
		}
		if !strings.HasPrefix(v2, "AV:") {
			return "", 0, fmt.Errorf("%w: %q: unknown CVSS version", ErrBadVector, vector)
		}
		c, perr := gocvss20.ParseVector(v2)
		if perr != nil {
			return "", 0, fmt.Errorf("%w: %q: %v", ErrBadVector, vector, perr)
		}
		typ, score = SeverityCVSSv2, c.BaseScore()
	}
	if math.IsNaN(score) || score < 0 || score > 10 {
		return "", 0, fmt.Errorf("%w: %q: score %v out of range", ErrBadVector, vector, score)
	}
	return typ, score, nil
}
