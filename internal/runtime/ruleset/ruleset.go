// Package ruleset holds Bulkhead's built-in runtime rules (Falco rules
// language), embedded in the binary. It imports only the rule engine.
package ruleset

import (
	_ "embed"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
)

//go:embed bulkhead_rules.yaml
var builtin []byte

// Builtin is the built-in rules file.
func Builtin() rules.Source { return rules.Source{Name: "builtin:bulkhead_rules.yaml", Data: builtin} }

// OpenPrefixes are the path prefixes the built-in rules need file opens
// for. The sensor drops other opens in the kernel.
func OpenPrefixes() []string {
	return []string{"/etc/", "/root/"}
}
