package checkreport

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, errors.New("schema " + url + " is not vendored")
}

// sarifSchema compiles the SARIF 2.1.0 schema vendored for internal/report.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	f, err := os.Open(filepath.Join("..", "..", "report", "testdata", "schema", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	c.UseLoader(offline{})
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var sample = &CheckRun{
	Command: "check docker", Target: "docker:unix:///var/run/docker.sock",
	Tool: sbom.Descriptor{Name: "bulkhead", Version: "test"},
	Checks: []compliance.Check{{ID: "DOCKER-5.31", Title: "The Docker socket must not be mounted", Severity: "critical",
		Benchmark: "CIS-Docker 5.31", Rationale: "root", Remediation: "do not"}},
	Results: []compliance.Result{
		{CheckID: "DOCKER-5.31", Title: "The Docker socket must not be mounted", Severity: "critical", Benchmark: "CIS-Docker 5.31",
			Status: compliance.StatusFail, Message: "the Docker socket is mounted", Kind: "Container", Name: "web",
			ResourceID: "3f2a9c1d0b7e0123456789", Target: "docker:unix:///var/run/docker.sock", Path: "Mounts",
			Evidence: "Mounts: /var/run/docker.sock:/var/run/docker.sock"},
		{CheckID: "DOCKER-5.31", Title: "The Docker socket must not be mounted", Severity: "critical", Benchmark: "CIS-Docker 5.31",
			Status: compliance.StatusPass, Kind: "Container", Name: "db", ResourceID: "aa", Evidence: "no docker.sock mount"},
		{CheckID: "DOCKER-3.18", Title: "Permissions", Severity: "medium", Benchmark: "CIS-Docker 3.18", Status: compliance.StatusFail,
			Kind: "Files", Name: "node1", File: "/etc/docker/daemon.json", Evidence: "mode 0666 owner root:root"},
		{CheckID: "IMG-SEC-001", Title: "Private keys", Severity: "critical", Benchmark: "CIS-Docker 4.10", Status: compliance.StatusFail,
			Kind: "Image", Name: "app:1", ResourceID: "sha256:beef", Target: "image:app:1", File: "/root/.ssh/id_rsa", Line: 1,
			Layer: "sha256:1111", Deleted: true, Evidence: "MIIEow…"},
		{CheckID: "K8S-PSS-003", Title: "Privileged", Severity: "critical", Benchmark: "PSS-baseline", Status: compliance.StatusFail,
			Kind: "Deployment", Name: "web", Namespace: "prod", File: "deploy/web.yaml", Line: 13, Path: "spec.template.spec.containers[0].securityContext.privileged"},
		{CheckID: "DOCKER-1.2.1", Title: "Hardened", Severity: "medium", Benchmark: "CIS-Docker 1.2.1", Status: compliance.StatusManual, Kind: "Host", Name: "node1", Message: "Ask: hardened?"},
		{CheckID: "DOCKER-2.7", Title: "TLS", Severity: "critical", Benchmark: "CIS-Docker 2.7", Status: compliance.StatusNotApplicable},
		{Status: compliance.StatusError, File: "broken.yaml", Message: "parse: line 3"},
	},
}

func TestCheckSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := CheckSARIF(&b, sample); err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(v); err != nil {
		t.Fatalf("not valid SARIF 2.1.0: %v\n%s", err, b.String())
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string
						Properties map[string]any
					}
				}
			}
			Results []struct {
				RuleID, Kind, Level string
				Message             struct{ Text string }
				Properties          map[string]any
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string } `json:"artifactLocation"`
						Region           struct{ StartLine int }
					}
				}
			}
			Invocations []struct {
				ToolExecutionNotifications []struct{ Message struct{ Text string } }
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	for _, r := range run.Tool.Driver.Rules {
		if r.Properties["benchmark"] == nil || r.Properties["benchmark"] == "" {
			t.Errorf("rule %s without benchmark", r.ID)
		}
	}
	want := []struct{ rule, kind, level, msg, uri string }{
		{"DOCKER-5.31", "fail", "error", "[container web (3f2a9c1d0b7e)]", ""},
		{"DOCKER-5.31", "pass", "none", "[container db (aa)]", ""},
		{"DOCKER-3.18", "fail", "warning", "/etc/docker/daemon.json", "file:///etc/docker/daemon.json"},
		{"IMG-SEC-001", "fail", "error", "in layer sha256:1111 (deleted by a later layer)", "root/.ssh/id_rsa"},
		{"K8S-PSS-003", "fail", "error", "Deployment prod/web deploy/web.yaml:13", "deploy/web.yaml"},
		{"DOCKER-1.2.1", "review", "none", "host node1", ""},
		{"DOCKER-2.7", "notApplicable", "none", "TLS", ""},
	}
	if len(run.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(run.Results), len(want))
	}
	for i, w := range want {
		r := run.Results[i]
		if r.RuleID != w.rule || r.Kind != w.kind || r.Level != w.level || !strings.Contains(r.Message.Text, w.msg) {
			t.Errorf("result %d: %s %s %s %q; want %+v", i, r.RuleID, r.Kind, r.Level, r.Message.Text, w)
		}
		if w.uri != "" && r.Locations[0].PhysicalLocation.ArtifactLocation.URI != w.uri {
			t.Errorf("result %d: uri %q, want %q", i, r.Locations[0].PhysicalLocation.ArtifactLocation.URI, w.uri)
		}
	}
	if p := run.Results[0].Properties; p["resourceID"] != "3f2a9c1d0b7e0123456789" || p["resourceName"] != "web" || p["evidence"] == nil {
		t.Errorf("properties %v", p)
	}
	if p := run.Results[3].Properties; p["layer"] != "sha256:1111" || p["deleted"] != true {
		t.Errorf("image properties %v", p)
	}
	if run.Results[4].Locations[0].PhysicalLocation.Region.StartLine != 13 {
		t.Error("no line for the manifest result")
	}
	if n := run.Invocations[0].ToolExecutionNotifications; len(n) != 1 || !strings.Contains(n[0].Message.Text, "broken.yaml") {
		t.Errorf("error result not a notification: %+v", n)
	}
}

func TestCheckJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := CheckJUnit(&b, sample); err != nil {
		t.Fatal(err)
	}
	var doc checkSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Tests != len(sample.Results) || doc.Failures != 4 || doc.Errors != 1 || doc.Skipped != 2 {
		t.Errorf("tests %d failures %d errors %d skipped %d", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	if doc.Suites[0].Name != "container web (3f2a9c1d0b7e)" {
		t.Errorf("first suite %q", doc.Suites[0].Name)
	}
}

func FuzzCheckWriters(f *testing.F) {
	f.Add("web\x1b[31m", "/etc/\u202ex", "Mounts: a:b", "sha256:1")
	f.Fuzz(func(t *testing.T, name, file, evidence, layer string) {
		run := &CheckRun{Command: "check", Target: "t", Results: []compliance.Result{{CheckID: "X-1", Status: compliance.StatusFail,
			Severity: "high", Kind: "Image", Name: name, File: file, Evidence: evidence, Layer: layer}}}
		var b bytes.Buffer
		if err := CheckSARIF(&b, run); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b.Bytes()) {
			t.Fatal("invalid JSON")
		}
		b.Reset()
		if err := CheckJUnit(&b, run); err != nil {
			t.Fatal(err)
		}
		var doc checkSuites
		if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("invalid XML: %v", err)
		}
	})
}
