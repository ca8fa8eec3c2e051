package compliance

import (
	"slices"
	"strings"
	"testing"
)

func count(rs []Result, f func(Result) bool) int {
	n := 0
	for _, r := range rs {
		if f(r) {
			n++
		}
	}
	return n
}

func TestCheckPathsTree(t *testing.T) {
	rs, err := CheckPaths([]string{"testdata/tree"}, WithCheckDir("testdata/userchecks"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, r := range rs {
		files[r.File] = true
	}
	for _, f := range []string{"testdata/tree/app/deploy.yaml", "testdata/tree/app/cm.json", "testdata/tree/app/Dockerfile", "testdata/tree/app/worker", "testdata/tree/app/broken.yml"} {
		if !files[f] {
			t.Errorf("%s not scanned", f)
		}
	}
	for _, f := range []string{"testdata/tree/app/README.md", "testdata/tree/.git/pod.yaml"} {
		if files[f] {
			t.Errorf("%s scanned", f)
		}
	}
	find := func(id, file string) []Result {
		var out []Result
		for _, r := range rs {
			if r.CheckID == id && r.File == file {
				out = append(out, r)
			}
		}
		return out
	}
	deploy := "testdata/tree/app/deploy.yaml"
	tests := []struct {
		id, file string
		status   Status
		line     int
	}{
		{"TEAM-001", deploy, StatusFail, 1},
		{"TEAM-002", "testdata/tree/app/cm.json", StatusManual, 1},
		{"TEAM-003", deploy, StatusInfo, 6},
		{"K8S-HRD-001", deploy, StatusFail, 11},
		{"DF-004", "testdata/tree/app/worker", StatusFail, 1},
		{"DF-001", "testdata/tree/app/Dockerfile", StatusPass, 1},
	}
	for _, tt := range tests {
		got := find(tt.id, tt.file)
		if len(got) != 1 || got[0].Status != tt.status || got[0].Line != tt.line {
			t.Errorf("%s on %s: %+v; want %s at line %d", tt.id, tt.file, got, tt.status, tt.line)
		}
	}
	errs := find("", "testdata/tree/app/broken.yml")
	if len(errs) != 1 || errs[0].Status != StatusError || errs[0].Line == 0 {
		t.Errorf("parse error result: %+v", errs)
	}
	// Nothing in the tree is a Role: the RBAC checks are reported once as
	// not-applicable.
	na := find("K8S-RBAC-001", "")
	if len(na) != 1 || na[0].Status != StatusNotApplicable {
		t.Errorf("not-applicable: %+v", na)
	}
	if !slices.IsSortedFunc(rs, func(a, b Result) int { return strings.Compare(a.File, b.File) }) {
		t.Error("results not sorted by file")
	}
}

func TestConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("disable: [K8S-HRD-001]\nseverity: {K8S-PSS-002: critical}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := CheckPaths([]string{"k8s/testdata/helm.yaml"}, WithConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if n := count(rs, func(r Result) bool { return r.CheckID == "K8S-HRD-001" }); n != 0 {
		t.Errorf("disabled check reported %d times", n)
	}
	if n := count(rs, func(r Result) bool {
		return r.CheckID == "K8S-PSS-002" && r.Status == StatusFail && r.Severity == "critical"
	}); n != 1 {
		t.Errorf("re-rated check: %d", n)
	}
	for _, bad := range []string{"disable: [NOPE-1]\n", "severity: {K8S-PSS-002: urgent}\n", "disabled: [K8S-PSS-002]\n"} {
		cfg, err := ParseConfig([]byte(bad))
		if err == nil {
			_, err = CheckPaths([]string{"k8s/testdata/helm.yaml"}, WithConfig(cfg))
		}
		if err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func TestUserCheckErrors(t *testing.T) {
	_, err := CheckPaths([]string{"testdata/tree"}, WithCheckDir("testdata/badchecks"))
	if err == nil || !strings.Contains(err.Error(), "BROKEN-001") || !strings.Contains(err.Error(), "Syntax error") {
		t.Fatalf("error %v; want one naming the check and the CEL error", err)
	}
	tests := []struct {
		name string
		c    Check
		want string
	}{
		{"wrong type", Check{ID: "X-1", Severity: "low", AppliesTo: []string{"Pod"}, Expr: `"text"`}, "want bool, list or null"},
		{"unknown variable", Check{ID: "X-2", Severity: "low", AppliesTo: []string{"Pod"}, Expr: `pod.spec == null`}, "undeclared reference"},
		{"bad severity", Check{ID: "X-3", Severity: "urgent", AppliesTo: []string{"Pod"}, Expr: `true`}, "severity"},
		{"duplicate of builtin", Check{ID: "K8S-PSS-001", Severity: "low", AppliesTo: []string{"Pod"}, Expr: `true`}, "defined twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine(WithChecks(tt.c))
			if err == nil || !strings.Contains(err.Error(), tt.c.ID) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want %q naming %s", err, tt.want, tt.c.ID)
			}
		})
	}
}

func TestRuntimeErrorIsReported(t *testing.T) {
	e, err := Compile([]Check{{ID: "X-9", Severity: "low", AppliesTo: []string{"Pod"}, Expr: `object.spec.nope == 1`}})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ManifestResources("p.yaml", []byte("apiVersion: v1\nkind: Pod\nspec: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := e.Evaluate(&rs[0])
	if len(got) != 1 || got[0].Status != StatusError || !strings.Contains(got[0].Message, "X-9") {
		t.Fatalf("%+v", got)
	}
}

func TestLineOf(t *testing.T) {
	lines := map[string]int{"": 1, "spec": 3, "spec.containers[0]": 7, `metadata.annotations["a.b/c"]`: 4, "metadata.annotations": 3}
	for p, want := range map[string]int{
		"spec.containers[0].securityContext.privileged": 7,
		`metadata.annotations["a.b/c"]`:                 4,
		`metadata.annotations["x.y"]`:                   3,
		"status.phase":                                  1,
	} {
		if got := lineOf(lines, p); got != want {
			t.Errorf("%s: %d, want %d", p, got, want)
		}
	}
}

func TestFinding(t *testing.T) {
	f := Result{CheckID: "K8S-PSS-003", Severity: "critical", Status: StatusFail, File: "d.yaml", Path: "spec.x", Kind: "Pod", Name: "p", Benchmark: "PSS-baseline: Privileged Containers"}.Finding()
	if f.Kind != "misconfig" || f.ID != "K8S-PSS-003" || f.Locations[0].Path != "d.yaml#spec.x" {
		t.Fatalf("%+v", f)
	}
}
