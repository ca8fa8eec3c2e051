package compliance

import (
	"github.com/bulkhead-sec/bulkhead/internal/compliance/dockerfile"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/k8s"
)

// ManifestResources parses Kubernetes manifests and shapes each object
// for the engine. The resources before a syntax error are returned with
// the error.
func ManifestResources(file string, data []byte) ([]Resource, error) {
	objs, err := k8s.Parse(data)
	out := make([]Resource, 0, len(objs))
	for i := range objs {
		out = append(out, k8sResource(file, &objs[i]))
	}
	return out, err
}

func k8sResource(file string, o *k8s.Resource) Resource {
	r := Resource{
		File: file, Line: o.Line, Kind: o.Kind, Name: o.Name, Namespace: o.Namespace,
		Source: o.Source, Types: []string{o.Kind}, Lines: o.Lines,
		Vars: map[string]any{
			"object": o.Object, "kind": o.Kind, "name": o.Name, "namespace": o.Namespace,
		},
	}
	if !k8s.IsWorkload(o.Kind) {
		return r
	}
	r.Types = append(r.Types, "Workload")
	spec := o.PodSpec()
	r.Vars["podSpec"] = spec
	r.Vars["podSpecPath"] = o.PodSpecPath
	r.Vars["podMeta"] = o.PodMeta()
	r.Vars["podMetaPath"] = o.PodMetaPath
	if os, ok := spec["os"].(map[string]any); ok && os["name"] == "windows" {
		r.Vars["isWindows"] = true
	}

	podSC, _ := spec["securityContext"].(map[string]any)
	if podSC == nil {
		podSC = map[string]any{}
	}
	contexts := []any{map[string]any{
		"path": k8s.Join(o.PodSpecPath, "securityContext"), "scope": "pod", "name": o.Name, "sc": podSC,
	}}
	var containers []any
	for _, c := range o.Containers() {
		containers = append(containers, map[string]any{
			"path": c.Path, "field": c.Field, "name": c.Name, "container": c.Spec,
		})
		sc, _ := c.Spec["securityContext"].(map[string]any)
		if sc == nil {
			sc = map[string]any{}
		}
		contexts = append(contexts, map[string]any{
			"path": k8s.Join(c.Path, "securityContext"), "scope": "container", "name": c.Name, "sc": sc,
		})
	}
	var volumes []any
	vl, _ := spec["volumes"].([]any)
	for i, v := range vl {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		volumes = append(volumes, map[string]any{
			"path": k8s.Index(k8s.Join(o.PodSpecPath, "volumes"), i), "name": name, "volume": m,
		})
	}
	r.Vars["containers"] = orEmpty(containers)
	r.Vars["contexts"] = contexts
	r.Vars["volumes"] = orEmpty(volumes)
	return r
}

func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// DockerfileResource parses a Dockerfile into one resource.
func DockerfileResource(file string, data []byte) (Resource, error) {
	f, err := dockerfile.Parse(data)
	if err != nil {
		return Resource{}, err
	}
	stages := make([]any, len(f.Stages))
	var all []any
	for i, st := range f.Stages {
		ins := make([]any, len(st.Instructions))
		for j := range st.Instructions {
			ins[j] = instructionVar(&st.Instructions[j])
			all = append(all, ins[j])
		}
		stages[i] = map[string]any{
			"index": int64(st.Index), "name": st.Name, "image": st.Image, "fromStage": st.FromStage,
			"platform": st.Platform, "line": int64(st.Line), "path": st.Path, "instructions": ins,
			"user": st.User, "userPath": st.UserPath, "healthcheck": st.Healthcheck,
		}
	}
	globals := make([]any, len(f.GlobalArgs))
	for i := range f.GlobalArgs {
		globals[i] = instructionVar(&f.GlobalArgs[i])
	}
	obj := map[string]any{"stages": stages, "globalArgs": globals, "instructions": orEmpty(all)}
	vars := map[string]any{
		"object": obj, "kind": "Dockerfile", "stages": stages, "instructions": append(globals, all...),
	}
	if len(stages) > 0 {
		vars["final"] = stages[len(stages)-1]
	}
	return Resource{
		File: file, Line: 1, Kind: "Dockerfile", Types: []string{"Dockerfile"},
		Vars: vars, Lines: f.Lines,
	}, nil
}

func instructionVar(in *dockerfile.Instruction) map[string]any {
	return map[string]any{
		"cmd": in.Cmd, "args": strs(in.Args), "flags": strs(in.Flags), "original": in.Original,
		"json": in.JSON, "line": int64(in.Line), "endLine": int64(in.EndLine), "path": in.Path,
		"stage": int64(in.StageIdx), "keys": strs(in.Keys), "command": in.Command(),
	}
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
