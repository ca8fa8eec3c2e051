package dockerfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/compliance/dockerfile"
)

type checkCase struct {
	file, check string
	status      compliance.Status
	lines       []int
}

var (
	pass = compliance.StatusPass
	fail = compliance.StatusFail
	warn = compliance.StatusWarn
)

var checkCases = []checkCase{
	{"bad.Dockerfile", "DF-001", fail, []int{11}},
	{"nouser.Dockerfile", "DF-001", fail, []int{1}},
	{"good.Dockerfile", "DF-001", pass, nil}, // inherits USER from the runtime stage
	{"cache.Dockerfile", "DF-001", pass, nil},
	{"bad.Dockerfile", "DF-002", warn, []int{9}},
	{"cache.Dockerfile", "DF-002", warn, []int{1}}, // HEALTHCHECK NONE
	{"good.Dockerfile", "DF-002", pass, nil},
	{"bad.Dockerfile", "DF-003", fail, []int{8}},
	{"good.Dockerfile", "DF-003", pass, nil}, // ADD --checksum
	{"bad.Dockerfile", "DF-004", fail, []int{1, 9}},
	{"good.Dockerfile", "DF-004", pass, nil},
	{"cache.Dockerfile", "DF-004", pass, nil},
	{"nouser.Dockerfile", "DF-004", pass, nil},
	{"bad.Dockerfile", "DF-005", fail, []int{5}},
	{"good.Dockerfile", "DF-005", pass, nil},
	{"cache.Dockerfile", "DF-005", pass, nil},
	{"bad.Dockerfile", "DF-006", fail, []int{5}},
	{"good.Dockerfile", "DF-006", pass, nil},
	{"cache.Dockerfile", "DF-006", pass, nil}, // cache mount
	{"bad.Dockerfile", "DF-007", fail, []int{7, 10}},
	{"good.Dockerfile", "DF-007", pass, nil},
	{"bad.Dockerfile", "DF-008", fail, []int{2, 3}},
	{"good.Dockerfile", "DF-008", pass, nil}, // GPG_KEY is public
}

func engine(t testing.TB) *compliance.Engine {
	t.Helper()
	cs, err := compliance.LoadFS(dockerfile.Checks, "checks")
	if err != nil {
		t.Fatal(err)
	}
	e, err := compliance.Compile(cs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestChecks(t *testing.T) {
	e := engine(t)
	for _, c := range checkCases {
		t.Run(c.check+"/"+c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := compliance.DockerfileResource(c.file, data)
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			var statuses []compliance.Status
			for _, res := range e.Evaluate(&r) {
				if res.CheckID != c.check {
					continue
				}
				statuses = append(statuses, res.Status)
				if res.Status != compliance.StatusPass {
					lines = append(lines, res.Line)
				}
			}
			if len(statuses) == 0 {
				t.Fatal("no result")
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

func TestEveryCheckCovered(t *testing.T) {
	for _, ch := range engine(t).Checks() {
		var p, f bool
		for _, c := range checkCases {
			if c.check == ch.ID {
				p = p || c.status == pass
				f = f || c.status == fail || c.status == warn
			}
		}
		if !p || !f {
			t.Errorf("%s: pass case %v, fail case %v", ch.ID, p, f)
		}
	}
}

func TestParse(t *testing.T) {
	data, err := os.ReadFile("testdata/good.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	f, err := dockerfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.GlobalArgs) != 1 || f.GlobalArgs[0].Line != 2 {
		t.Errorf("global args %+v", f.GlobalArgs)
	}
	if len(f.Stages) != 3 {
		t.Fatalf("%d stages", len(f.Stages))
	}
	run := f.Stages[1].Instructions[0]
	if run.Cmd != "RUN" || run.Line != 9 || run.EndLine != 11 {
		t.Errorf("continued RUN: %+v", run)
	}
	final := f.Stages[2]
	if !final.FromStage || final.User != "10001:10001" || final.UserPath != "stages[1].instructions[3]" || !final.Healthcheck {
		t.Errorf("final stage inheritance: %+v", final)
	}
	env := f.Stages[1].Instructions[2]
	if !slices.Equal(env.Keys, []string{"APP_HOME", "GPG_KEY"}) {
		t.Errorf("ENV keys %v", env.Keys)
	}
	if got := f.Lines["stages[1].instructions[2]"]; got != 13 {
		t.Errorf("ENV line %d", got)
	}
}

func TestIsDockerfileName(t *testing.T) {
	for name, want := range map[string]bool{
		"Dockerfile": true, "Containerfile": true, "Dockerfile.prod": true, "api.Dockerfile": true,
		"dockerfile": true, "Dockerfile-old.txt": false, "main.go": false,
	} {
		if got := dockerfile.IsDockerfileName(name); got != want {
			t.Errorf("%s: %v", name, got)
		}
	}
}
