// Package secrets finds credentials in file contents: private keys, cloud
// credentials, service tokens and generic high-entropy assignments. The
// patterns are listed in docs/compliance.md; patterns that match random
// looking text (AWS secret keys, generic assignments, key bodies) are
// also entropy-checked, so that placeholders and examples are not
// reported.
//
// It imports only the standard library.
package secrets

import (
	"bytes"
	"math"
	"regexp"
	"strings"
)

// Finding is one secret in one file.
type Finding struct {
	Rule        string `json:"rule"`
	Description string `json:"description"`
	Line        int    `json:"line"`
	// Match is the secret redacted to its first characters.
	Match   string  `json:"match"`
	Entropy float64 `json:"entropy,omitempty"`
}

// Rule is one pattern.
type Rule struct {
	ID          string
	Description string
	re          *regexp.Regexp
	// group is the submatch that holds the secret (0: the whole match).
	group int
	// minEntropy is the Shannon entropy (bits per character) the secret
	// must reach; 0 skips the check.
	minEntropy float64
	// keyword is a cheap prefilter: the rule runs only on data that
	// contains it (lower-cased comparison when fold is set).
	keyword string
	fold    bool
}

// Rules are the built-in patterns, in report order.
var Rules = []Rule{
	{ID: "private-key", Description: "private key (PEM or OpenSSH)", keyword: "PRIVATE KEY",
		re:    regexp.MustCompile(`-----BEGIN ((?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----\s*(?:[A-Za-z-]+:[^\n]*\n)*\s*([A-Za-z0-9+/=\s]{64,})`),
		group: 3, minEntropy: 4.5},
	{ID: "aws-access-key-id", Description: "AWS access key id",
		re: regexp.MustCompile(`\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`), group: 1, minEntropy: 3.0},
	{ID: "aws-secret-access-key", Description: "AWS secret access key", keyword: "aws", fold: true,
		re:    regexp.MustCompile(`(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)`),
		group: 1, minEntropy: 4.0},
	{ID: "gcp-service-account", Description: "GCP service account key (JSON)", keyword: "service_account",
		re: regexp.MustCompile(`"type"\s*:\s*"service_account"[\s\S]{0,1000}?"private_key_id"\s*:\s*"([a-f0-9]{40})"|"private_key_id"\s*:\s*"([a-f0-9]{40})"[\s\S]{0,1000}?"type"\s*:\s*"service_account"`)},
	{ID: "github-token", Description: "GitHub token", keyword: "gh",
		re: regexp.MustCompile(`\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b`), group: 1, minEntropy: 3.5},
	{ID: "gitlab-token", Description: "GitLab personal access token", keyword: "glpat-",
		re: regexp.MustCompile(`\b(glpat-[A-Za-z0-9_-]{20})\b`), group: 1, minEntropy: 3.0},
	{ID: "slack-token", Description: "Slack token", keyword: "xox",
		re: regexp.MustCompile(`\b(xox[baprs]-[A-Za-z0-9-]{10,72})\b`), group: 1, minEntropy: 3.0},
	{ID: "slack-webhook", Description: "Slack incoming webhook URL", keyword: "hooks.slack.com",
		re: regexp.MustCompile(`https://hooks\.slack\.com/services/(T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{24})`), group: 1},
	{ID: "generic-secret", Description: "high-entropy value assigned to a secret-looking name", keyword: "",
		re:    regexp.MustCompile(`(?i)\b[a-z0-9_.-]*(?:password|passwd|secret|token|api_?key|apikey|access_?key|private_?key|auth_?key|credential)[a-z0-9_.-]*["']?\s*[:=]\s*["']?([A-Za-z0-9+/=_\-.~!@#$%^&*]{16,128})["']?`),
		group: 1, minEntropy: 4.0},
}

// MaxBytes is how much of a file Scan reads: secrets live in small text
// files, and a bound keeps a hostile image from costing a full read of
// every large file.
const MaxBytes = 1 << 20

// IsBinary reports whether data looks binary (a NUL in its first 8 KiB).
func IsBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0
}

// Scan finds secrets in data (the first MaxBytes of a file). Binary data
// is skipped.
func Scan(data []byte) []Finding {
	if len(data) > MaxBytes {
		data = data[:MaxBytes]
	}
	if len(data) == 0 || IsBinary(data) {
		return nil
	}
	var lower []byte
	var out []Finding
	covered := map[int]bool{} // lines a specific rule already reported
	for _, r := range Rules {
		if r.keyword != "" {
			if r.fold {
				if lower == nil {
					lower = bytes.ToLower(data)
				}
				if !bytes.Contains(lower, []byte(r.keyword)) {
					continue
				}
			} else if !bytes.Contains(data, []byte(r.keyword)) {
				continue
			}
		}
		for _, m := range r.re.FindAllSubmatchIndex(data, 64) {
			s, e := m[0], m[1]
			if r.group > 0 && m[2*r.group] >= 0 {
				s, e = m[2*r.group], m[2*r.group+1]
			} else if r.ID == "gcp-service-account" {
				for g := 1; 2*g < len(m); g++ {
					if m[2*g] >= 0 {
						s, e = m[2*g], m[2*g+1]
						break
					}
				}
			}
			secret := data[s:e]
			if r.ID == "private-key" {
				secret = bytes.Join(bytes.Fields(secret), nil)
			}
			line := 1 + bytes.Count(data[:m[0]], []byte("\n"))
			if r.ID == "generic-secret" && (covered[line] || placeholder(string(secret))) {
				continue
			}
			if r.ID == "aws-access-key-id" && strings.HasSuffix(string(secret), "EXAMPLE") {
				continue // AWS's documentation key
			}
			ent := Entropy(secret)
			if r.minEntropy > 0 && ent < r.minEntropy {
				continue
			}
			covered[line] = true
			out = append(out, Finding{Rule: r.ID, Description: r.Description, Line: line, Match: redact(string(secret)), Entropy: math.Round(ent*100) / 100})
		}
	}
	return out
}

// placeholder reports values that are obviously not secrets: variable
// references, paths, and template or example text.
func placeholder(v string) bool {
	l := strings.ToLower(v)
	if strings.ContainsAny(v, "$%{}<>") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") {
		return true
	}
	for _, w := range []string{"example", "changeme", "placeholder", "xxxxxx", "your_", "your-", "dummy", "redacted", "notasecret", "password"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

func redact(s string) string {
	if len(s) <= 8 {
		return s[:min(len(s), 2)] + "…"
	}
	return s[:6] + "…(" + itoa(len(s)) + " chars)"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// Entropy is the Shannon entropy of s in bits per byte.
func Entropy(s []byte) float64 {
	if len(s) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range s {
		counts[c]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h
}
