package rules

import "strings"

// template is a compiled output format: literal text interleaved with
// field references.
type template struct {
	parts []tmplPart
	// fields are the distinct references in order, keyed as Falco keys
	// output_fields ("proc.aname[2]").
	fields []tmplField
}

type tmplPart struct {
	lit   string
	field int // index into fields, -1 for literal
}

type tmplField struct {
	key, name, arg string
}

// parseTemplate splits "text %proc.name[arg] %%" into parts. A '%' not
// followed by a field name is kept literally, as Falco does.
func parseTemplate(s string) *template {
	t := &template{}
	idx := map[string]int{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit.String(), field: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		for j > i+1 && s[j-1] == '.' { // "%evt.type." ends a sentence
			j--
		}
		name := s[i+1 : j]
		if !strings.Contains(name, ".") {
			lit.WriteByte('%')
			continue
		}
		arg := ""
		key := name
		if j < len(s) && s[j] == '[' {
			if end := strings.IndexByte(s[j:], ']'); end > 0 {
				arg = s[j+1 : j+end]
				key = s[i+1 : j+end+1]
				j += end + 1
			}
		}
		flush()
		n, a, _ := canonicalField(name, arg, arg != "")
		k, ok := idx[key]
		if !ok {
			k = len(t.fields)
			idx[key] = k
			t.fields = append(t.fields, tmplField{key: key, name: n, arg: a})
		}
		t.parts = append(t.parts, tmplPart{field: k})
		i = j - 1
	}
	flush()
	return t
}

// render substitutes the event's values; missing fields print as <NA>.
func (t *template) render(e Event) (string, map[string]string) {
	vals := make([]string, len(t.fields))
	fields := make(map[string]string, len(t.fields))
	for i, f := range t.fields {
		v, ok := e.Field(f.name, f.arg)
		s := naValue
		if ok {
			s = v.String()
		}
		vals[i] = s
		fields[f.key] = s
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.field < 0 {
			b.WriteString(p.lit)
		} else {
			b.WriteString(vals[p.field])
		}
	}
	return b.String(), fields
}
