package javascript

import (
	"encoding/json"
	"strings"
)

// licenses reads a package.json or lockfile "license"/"licenses" value: a
// string (SPDX expression), an object {"type": ...} or, in old manifests, an
// array of either.
func licenses(raw json.RawMessage) []string {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s = strings.TrimSpace(s); s != "" {
				return []string{s}
			}
		}
	case '{':
		var o struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &o) == nil {
			if t := strings.TrimSpace(o.Type); t != "" {
				return []string{t}
			}
		}
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(raw, &a) == nil {
			var out []string
			for _, e := range a {
				if len(e) > 0 && e[0] != '[' { // no nesting
					out = append(out, licenses(e)...)
				}
			}
			return out
		}
	}
	return nil
}
