package k8s

// Container is one container of a pod spec with where it sits.
type Container struct {
	// Path is the container's field path, e.g.
	// "spec.template.spec.initContainers[0]".
	Path string
	// Field is containers, initContainers or ephemeralContainers.
	Field string
	Name  string
	Spec  map[string]any
}

// PodSpec returns the pod spec of a pod-bearing resource: an empty map
// when the template is missing, nil when the kind has none.
func (r *Resource) PodSpec() map[string]any {
	if r.PodSpecPath == "" {
		return nil
	}
	if m, ok := lookup(r.Object, r.PodSpecPath).(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// PodMeta returns the pod template's metadata (see PodSpec).
func (r *Resource) PodMeta() map[string]any {
	if r.PodMetaPath == "" {
		return nil
	}
	if m, ok := lookup(r.Object, r.PodMetaPath).(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// Containers lists init, regular and ephemeral containers, in that order.
func (r *Resource) Containers() []Container {
	spec := r.PodSpec()
	var out []Container
	for _, f := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := spec[f].([]any)
		for i, c := range list {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			name, _ := m["name"].(string)
			out = append(out, Container{Path: Index(Join(r.PodSpecPath, f), i), Field: f, Name: name, Spec: m})
		}
	}
	return out
}

// lookup follows a dotted path of plain keys.
func lookup(v any, path string) any {
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '.' {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[path[start:i]]
			start = i + 1
		}
	}
	return v
}
