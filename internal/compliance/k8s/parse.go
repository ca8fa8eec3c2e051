package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resource is one Kubernetes object found in a file.
type Resource struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Line is where the object starts (its first key).
	Line int
	// Source is the Helm template named by the nearest "# Source:"
	// comment in the same document, if any.
	Source string
	// Object is the object as map[string]any / []any / scalars (int64,
	// float64, bool, string, nil).
	Object map[string]any
	// Lines maps field paths within Object to lines: "" is the object,
	// "spec.containers[0].image" a field, `metadata.annotations["a.b/c"]`
	// a key that is not a plain identifier.
	Lines map[string]int
	// PodSpecPath and PodMetaPath locate the pod template of a
	// pod-bearing kind ("spec.template.spec"); empty otherwise.
	PodSpecPath string
	PodMetaPath string
}

// Limits that keep a hostile file (alias bombs, deep nesting) from eating
// the scanner.
const (
	maxNodes = 200_000 // large CRDs run to tens of thousands
	maxDepth = 256
)

var errTooLarge = errors.New("document expands to too many nodes (aliases?)")

// Parse reads every object in data: a YAML stream or a JSON document. A
// document without apiVersion and kind is not a Kubernetes object and is
// skipped. A List's items become separate resources (their lines are
// those in the file). On a syntax error Parse returns the objects before
// it and the error.
func Parse(data []byte) (res []Resource, err error) {
	defer func() {
		// yaml.v3 has panicked on malformed input before; a bad file must
		// not take the scan down.
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	sources, seps := scanComments(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return res, nil
			}
			return res, fmt.Errorf("document %d: %w", doc, err)
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := n.Content[0]
		if kind := scalarField(root, "kind"); strings.HasSuffix(kind, "List") {
			if items := field(root, "items"); items != nil && items.Kind == yaml.SequenceNode {
				for _, it := range items.Content {
					r, err := newResource(it, sources, seps)
					if err != nil {
						return res, fmt.Errorf("document %d: %w", doc, err)
					}
					if r != nil {
						res = append(res, *r)
					}
				}
				continue
			}
		}
		r, err := newResource(root, sources, seps)
		if err != nil {
			return res, fmt.Errorf("document %d: %w", doc, err)
		}
		if r != nil {
			res = append(res, *r)
		}
	}
}

func newResource(n *yaml.Node, sources []source, seps []int) (*Resource, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	c := converter{lines: map[string]int{}}
	v, err := c.convert(n, "", 0)
	if err != nil {
		return nil, err
	}
	obj, _ := v.(map[string]any)
	r := &Resource{Object: obj, Lines: c.lines, Line: n.Line}
	r.APIVersion, _ = obj["apiVersion"].(string)
	r.Kind, _ = obj["kind"].(string)
	if r.APIVersion == "" || r.Kind == "" {
		return nil, nil
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		r.Name, _ = md["name"].(string)
		r.Namespace, _ = md["namespace"].(string)
	}
	r.Source = sourceFor(n.Line, sources, seps)
	if p, ok := podSpecPaths[r.Kind]; ok {
		r.PodSpecPath, r.PodMetaPath = p+".spec", p+".metadata"
		if p == "" {
			r.PodSpecPath, r.PodMetaPath = "spec", "metadata"
		}
	}
	return r, nil
}

// podSpecPaths gives, for each pod-bearing kind, the path of the pod
// template ("" for Pod itself, whose spec is the pod spec).
var podSpecPaths = map[string]string{
	"Pod":                   "",
	"PodTemplate":           "template",
	"Deployment":            "spec.template",
	"StatefulSet":           "spec.template",
	"DaemonSet":             "spec.template",
	"ReplicaSet":            "spec.template",
	"ReplicationController": "spec.template",
	"Job":                   "spec.template",
	"CronJob":               "spec.jobTemplate.spec.template",
}

// IsWorkload reports whether kind carries a pod spec.
func IsWorkload(kind string) bool {
	_, ok := podSpecPaths[kind]
	return ok
}

type converter struct {
	lines map[string]int
	nodes int
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_\-$@]+$`)

// Join appends a map key to a field path, quoting keys that are not plain
// identifiers: `metadata.annotations["app.kubernetes.io/name"]`.
func Join(path, key string) string {
	if plainKey.MatchString(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// Index appends a list index to a field path.
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func (c *converter) convert(n *yaml.Node, path string, depth int) (any, error) {
	c.nodes++
	if c.nodes > maxNodes {
		return nil, errTooLarge
	}
	if depth > maxDepth {
		return nil, errors.New("document nested too deeply")
	}
	if _, seen := c.lines[path]; !seen {
		c.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nil
		}
		return c.convert(n.Alias, path, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], path, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, it := range n.Content {
			v, err := c.convert(it, Index(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				merges = append(merges, v)
				continue
			}
			key := k.Value
			if k.Kind != yaml.ScalarNode {
				key = fmt.Sprintf("%v", k.Value)
			}
			p := Join(path, key)
			c.lines[p] = k.Line
			val, err := c.convert(v, p, depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = val
		}
		// "<<: *base" fills keys the mapping does not set itself.
		for _, m := range merges {
			v, err := c.convert(m, path, depth+1)
			if err != nil {
				return nil, err
			}
			var ms []any
			switch x := v.(type) {
			case map[string]any:
				ms = []any{x}
			case []any:
				ms = x
			}
			for _, mm := range ms {
				if mm, ok := mm.(map[string]any); ok {
					for k, v := range mm {
						if _, ok := out[k]; !ok {
							out[k] = v
						}
					}
				}
			}
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, nil
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!str", "!!binary", "!!timestamp":
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return i
		}
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	}
	return n.Value
}

func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalarField(m *yaml.Node, key string) string {
	if n := field(m, key); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

type source struct {
	line int
	name string
}

// scanComments finds Helm's "# Source: chart/templates/x.yaml" comments and
// the "---" document separators, by line.
func scanComments(data []byte) (sources []source, seps []int) {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimRight(l, "\r \t")
		switch {
		case bytes.HasPrefix(l, []byte("# Source: ")):
			sources = append(sources, source{line, string(bytes.TrimSpace(l[len("# Source: "):]))})
		case bytes.HasPrefix(l, []byte("---")):
			seps = append(seps, line)
		}
	}
	return sources, seps
}

// sourceFor returns the last Source comment above line with no document
// separator between the two.
func sourceFor(line int, sources []source, seps []int) string {
	var s source
	for _, x := range sources {
		if x.line < line {
			s = x
		}
	}
	if s.line == 0 {
		return ""
	}
	for _, sep := range seps {
		if sep > s.line && sep < line {
			return ""
		}
	}
	return s.name
}
