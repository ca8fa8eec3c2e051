package java

import (
	"bytes"
	"strings"
)

// manifest is a parsed META-INF/MANIFEST.MF: the main section and the
// per-entry sections after it, each a list of attributes in file order.
type manifest struct {
	main     []attr
	sections [][]attr
}

type attr struct{ key, value string }

func (m *manifest) has(key string) bool {
	for _, a := range m.main {
		if strings.EqualFold(a.key, key) {
			return true
		}
	}
	return false
}

// get returns the main section's value for key.
func (m *manifest) get(key string) string {
	for _, a := range m.main {
		if strings.EqualFold(a.key, key) {
			return a.value
		}
	}
	return ""
}

// field returns key's value from the main section, else from the first
// other section that has it (Syft's fieldValueFromManifest).
func (m *manifest) field(key string) string {
	if v := m.get(key); v != "" {
		return v
	}
	for _, s := range m.sections {
		for _, a := range s {
			if strings.EqualFold(a.key, key) && a.value != "" {
				return a.value
			}
		}
	}
	return ""
}

// parseManifest reads the JAR manifest format: "Key: value" lines, lines
// starting with a space continuing the previous value, blank lines
// separating sections. Malformed lines are skipped, as the JDK does not
// refuse them either when it only reads attributes.
func parseManifest(data []byte) *manifest {
	var (
		sections [][]attr
		inSect   bool // a non-blank line was seen since the last blank one
	)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			inSect = false
			continue
		}
		if line[0] == ' ' {
			if inSect && len(sections) > 0 {
				s := sections[len(sections)-1]
				if len(s) > 0 {
					s[len(s)-1].value += strings.TrimSpace(string(line))
				}
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		key := strings.TrimSpace(string(k))
		if key == "" {
			continue
		}
		if !inSect {
			sections = append(sections, nil)
			inSect = true
		}
		i := len(sections) - 1
		sections[i] = append(sections[i], attr{key: key, value: strings.TrimSpace(string(v))})
	}
	m := &manifest{}
	if len(sections) > 0 {
		m.main = sections[0]
		m.sections = sections[1:]
	}
	return m
}
