package k8s_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/k8s"
)

// checkCase says what one check reports for one resource of a testdata
// file: its status and, for failures, the lines of the violations.
type checkCase struct {
	file, resource, check string
	status                compliance.Status
	lines                 []int
}

var (
	pass = compliance.StatusPass
	fail = compliance.StatusFail
	na   = compliance.StatusNotApplicable
)

var checkCases = []checkCase{
	// Baseline.
	{"bad.yaml", "hostprocess", "K8S-PSS-001", fail, []int{8, 14}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-001", pass, nil},
	{"bad.yaml", "hostns", "K8S-PSS-002", fail, []int{21, 22}},
	{"helm.yaml", "app", "K8S-PSS-002", fail, []int{18}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-002", pass, nil},
	{"bad.yaml", "priv", "K8S-PSS-003", fail, []int{39}},
	{"list.yaml", "rs", "K8S-PSS-003", fail, []int{15}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-003", pass, nil},
	{"bad.yaml", "priv", "K8S-PSS-004", fail, []int{41}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-004", pass, nil},
	{"bad.yaml", "confinement", "K8S-PSS-005", fail, []int{75}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-005", pass, nil},
	{"bad.yaml", "priv", "K8S-PSS-006", fail, []int{50}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-006", pass, nil},
	{"bad.yaml", "confinement", "K8S-PSS-007", fail, []int{60, 86}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-007", pass, nil},
	{"bad.yaml", "confinement", "K8S-PSS-008", fail, []int{67, 88}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-008", pass, nil},
	{"bad.yaml", "priv", "K8S-PSS-009", fail, []int{42}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-009", pass, nil},
	{"bad.yaml", "confinement", "K8S-PSS-010", fail, []int{65}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-010", pass, nil},
	{"hardened.json", "good-cron", "K8S-PSS-010", pass, nil},
	{"bad.yaml", "confinement", "K8S-PSS-011", fail, []int{71}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-011", pass, nil},
	// Restricted.
	{"bad.yaml", "confinement", "K8S-PSS-101", fail, []int{75, 78}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-101", pass, nil},
	{"bad.yaml", "hostns", "K8S-PSS-102", fail, []int{25}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-102", pass, nil},
	{"windows.yaml", "win", "K8S-PSS-102", na, nil},
	{"bad.yaml", "confinement", "K8S-PSS-103", fail, []int{63, 84}},
	{"bad.yaml", "job", "K8S-PSS-103", pass, nil},
	{"windows.yaml", "win", "K8S-PSS-103", pass, nil},
	{"bad.yaml", "priv", "K8S-PSS-104", fail, []int{43}},
	{"bad.yaml", "job", "K8S-PSS-104", fail, []int{101}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-104", pass, nil},
	{"bad.yaml", "confinement", "K8S-PSS-105", fail, []int{65, 84}},
	{"bad.yaml", "job", "K8S-PSS-105", pass, nil},
	{"hardened.json", "good-cron", "K8S-PSS-105", pass, nil},
	{"windows.yaml", "win", "K8S-PSS-105", na, nil},
	{"bad.yaml", "priv", "K8S-PSS-106", fail, []int{40, 41, 41, 45}},
	{"hardened.yaml", "good-deploy", "K8S-PSS-106", pass, nil},
	{"windows.yaml", "win", "K8S-PSS-106", na, nil},
	// Hardening.
	{"bad.yaml", "hostns", "K8S-HRD-001", fail, []int{26}},
	{"bad.yaml", "confinement", "K8S-HRD-001", fail, []int{83}},
	{"bad.yaml", "job", "K8S-HRD-001", fail, []int{104}},
	{"list.yaml", "rs", "K8S-HRD-001", fail, []int{13}},
	{"bad.yaml", "priv", "K8S-HRD-001", pass, nil},
	{"hardened.yaml", "good-deploy", "K8S-HRD-001", pass, nil},
	{"hardened.json", "good-cron", "K8S-HRD-001", pass, nil},
	{"bad.yaml", "confinement", "K8S-HRD-002", fail, []int{90}},
	{"hardened.yaml", "good-deploy", "K8S-HRD-002", pass, nil},
	{"bad.yaml", "hostns", "K8S-HRD-003", fail, []int{20}},
	{"hardened.yaml", "good-deploy", "K8S-HRD-003", pass, nil},
	{"list.yaml", "rc", "K8S-HRD-003", pass, nil},
	{"bad.yaml", "nodeport", "K8S-HRD-004", fail, []int{115}},
	{"hardened.yaml", "good-svc", "K8S-HRD-004", pass, nil},
	// RBAC.
	{"bad.yaml", "too-much", "K8S-RBAC-001", fail, []int{128}},
	{"hardened.yaml", "good-role", "K8S-RBAC-001", pass, nil},
	{"bad.yaml", "exec", "K8S-RBAC-002", fail, []int{137}},
	{"bad.yaml", "too-much", "K8S-RBAC-002", pass, nil},
	{"hardened.yaml", "good-role", "K8S-RBAC-002", pass, nil},
}

func builtinEngine(t testing.TB) *compliance.Engine {
	t.Helper()
	cs, err := compliance.LoadFS(k8s.Checks, "checks")
	if err != nil {
		t.Fatal(err)
	}
	e, err := compliance.Compile(cs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func evalFile(t *testing.T, e *compliance.Engine, file string) []compliance.Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := compliance.ManifestResources(file, data)
	if err != nil {
		t.Fatal(err)
	}
	var out []compliance.Result
	for i := range rs {
		out = append(out, e.Evaluate(&rs[i])...)
	}
	return out
}

func TestChecks(t *testing.T) {
	e := builtinEngine(t)
	results := map[string][]compliance.Result{}
	for _, c := range checkCases {
		t.Run(c.check+"/"+c.file+"/"+c.resource, func(t *testing.T) {
			rs, ok := results[c.file]
			if !ok {
				rs = evalFile(t, e, c.file)
				results[c.file] = rs
			}
			var lines []int
			var statuses []compliance.Status
			for _, r := range rs {
				if r.CheckID != c.check || r.Name != c.resource {
					continue
				}
				statuses = append(statuses, r.Status)
				if r.Status == compliance.StatusFail {
					lines = append(lines, r.Line)
					if r.Message == "" || r.Path == "" {
						t.Errorf("failure without message or path: %+v", r)
					}
				}
			}
			if len(statuses) == 0 {
				t.Fatalf("no result for %s on %s", c.check, c.resource)
			}
			for _, s := range statuses {
				if s != c.status {
					t.Fatalf("statuses %v, want %s", statuses, c.status)
				}
			}
			slices.Sort(lines)
			if !slices.Equal(lines, c.lines) {
				t.Errorf("lines %v, want %v", lines, c.lines)
			}
		})
	}
}

// TestEveryCheckCovered: each built-in check has a passing and a failing
// case above.
func TestEveryCheckCovered(t *testing.T) {
	for _, ch := range builtinEngine(t).Checks() {
		var p, f bool
		for _, c := range checkCases {
			if c.check == ch.ID {
				p = p || c.status == pass
				f = f || c.status == fail
			}
		}
		if !p || !f {
			t.Errorf("%s: pass case %v, fail case %v", ch.ID, p, f)
		}
	}
}
