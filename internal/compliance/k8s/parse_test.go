package k8s

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	type want struct {
		kind, name, source string
		line               int
		paths              map[string]int
	}
	tests := []struct {
		file string
		want []want
	}{
		{"bad.yaml", []want{
			{"Pod", "hostprocess", "", 1, map[string]int{"spec.securityContext.windowsOptions.hostProcess": 8}},
			{"Pod", "hostns", "", 16, map[string]int{"spec.containers[0]": 25, "spec.containers[0].image": 26}},
			{"DaemonSet", "priv", "", 28, nil},
			{"StatefulSet", "confinement", "", 52, map[string]int{
				`spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/db"]`: 60,
			}},
			{"Job", "job", "", 93, nil},
			{"Service", "nodeport", "", 110, nil},
			{"ClusterRole", "too-much", "", 120, map[string]int{"rules[1]": 128}},
			{"Role", "exec", "", 132, nil},
		}},
		{"hardened.json", []want{
			{"CronJob", "good-cron", "", 1, map[string]int{"spec.jobTemplate.spec.template.spec.containers[0].image": 12}},
		}},
		{"list.yaml", []want{
			{"ReplicaSet", "rs", "", 4, map[string]int{"spec.template.spec.containers[0].image": 13}},
			{"ReplicationController", "rc", "", 16, nil},
		}},
		{"helm.yaml", []want{
			{"ServiceAccount", "app", "app/templates/serviceaccount.yaml", 3, nil},
			{"Deployment", "app", "app/templates/deployment.yaml", 9, map[string]int{`metadata.labels["app.kubernetes.io/name"]`: 14}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d resources, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Kind != w.kind || g.Name != w.name || g.Line != w.line || g.Source != w.source {
					t.Errorf("resource %d: %s/%s line %d source %q; want %s/%s line %d source %q",
						i, g.Kind, g.Name, g.Line, g.Source, w.kind, w.name, w.line, w.source)
				}
				for p, l := range w.paths {
					if g.Lines[p] != l {
						t.Errorf("%s/%s: line of %s = %d, want %d", g.Kind, g.Name, p, g.Lines[p], l)
					}
				}
			}
		})
	}
}

func TestParseWorkloadPaths(t *testing.T) {
	data, _ := os.ReadFile("testdata/hardened.json")
	rs, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.PodSpecPath != "spec.jobTemplate.spec.template.spec" {
		t.Fatalf("pod spec path %q", r.PodSpecPath)
	}
	cs := r.Containers()
	if len(cs) != 1 || cs[0].Path != "spec.jobTemplate.spec.template.spec.containers[0]" || cs[0].Name != "job" {
		t.Fatalf("containers %+v", cs)
	}
}

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		wantErr  bool
	}{
		{"not k8s", "foo: bar\n", 0, false},
		{"empty docs", "---\n---\n# only a comment\n", 0, false},
		{"scalar doc", "hello\n", 0, false},
		{"syntax error keeps earlier docs", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: [\n", 1, true},
		{"merge key", "base: &b {apiVersion: v1, kind: ConfigMap}\n<<: *b\n", 1, false},
		{"alias bomb", aliasBomb(), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse([]byte(tt.in))
			if (err != nil) != tt.wantErr || len(rs) != tt.n {
				t.Fatalf("got %d resources, err %v", len(rs), err)
			}
		})
	}
}

func aliasBomb() string {
	s := "apiVersion: v1\nkind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		s += "a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " ["
		for j := 0; j < 10; j++ {
			if j > 0 {
				s += ", "
			}
			s += "*a" + string(rune('0'+i-1))
		}
		s += "]\n"
	}
	return s
}
