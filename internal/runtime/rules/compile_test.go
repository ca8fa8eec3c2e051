package rules

import (
	"encoding/json"
	"errors"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustEvent(t testing.TB, m map[string]any) *MapEvent {
	t.Helper()
	e, err := NewMapEvent(m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func compileOne(t *testing.T, cond string, lists map[string][]string, macros map[string]string) (matcher, error) {
	t.Helper()
	n, err := ParseCondition(cond)
	if err != nil {
		return nil, err
	}
	env := newCompileEnv(lists, macros)
	m, err := env.compile(n)
	if err == nil && len(env.unknown) > 0 {
		err = &UnknownFieldError{Fields: sortedKeys(toSetBool(env.unknown))}
	}
	return m, err
}

func TestOperators(t *testing.T) {
	ev := mustEvent(t, map[string]any{
		"evt.type":             "openat",
		"evt.dir":              "<",
		"evt.res":              "ENOENT",
		"evt.arg.flags":        "O_RDONLY|O_CLOEXEC",
		"evt.buffer":           "\xca\xfe\xba\xbe rest",
		"proc.name":            "bash",
		"proc.cmdline":         "bash -c 'Curl http://x'",
		"proc.args":            []any{"-c", "curl"},
		"proc.tty":             34816,
		"proc.aname[2]":        "sshd",
		"proc.aname[3]":        "systemd",
		"user.loginuid":        -1,
		"fd.name":              "/home/alice/.ssh/id_rsa",
		"fd.num":               3,
		"fd.sip":               "10.1.2.3",
		"fd.snet":              "10.1.2.3",
		"fd.types":             []any{"file", "ipv4"},
		"container.id":         "host",
		"container.privileged": false,
		"evt.is_open_read":     true,
	})
	lists := map[string][]string{"shells": {"sh", "bash"}, "more": {"shells", "zsh"}, "quoted": {`'"bash -c x"'`}}
	macros := map[string]string{"is_shell": "proc.name in (shells)", "loop_a": "loop_b", "loop_b": "loop_a"}
	tests := []struct {
		cond string
		want bool
	}{
		{"proc.name = bash", true},
		{"proc.name == bash", true},
		{"proc.name = sh", false},
		{"proc.name != sh", true},
		{"proc.name != bash", false},
		{"proc.nonexistent.field exists", false},
		{"proc.pname exists", false},
		{"not proc.pname exists", true},
		{"proc.pname != x", false}, // missing field: every comparison is false
		{"proc.pname = x", false},
		{"proc.tty != 0", true},
		{"proc.tty > 100", true},
		{"proc.tty >= 34816", true},
		{"proc.tty < 34816", false},
		{"proc.tty <= 34816", true},
		{"user.loginuid = -1", true},
		{"fd.num>=0", true},
		{"fd.num in (1, 2, 3)", true},
		{"evt.is_open_read=true", true},
		{"container.privileged=true", false},
		{"container.privileged != true", true},
		{"proc.name in (sh, bash)", true},
		{"proc.name in (shells)", true},
		{"proc.name in (more)", true},
		{"proc.name in ('shells')", false}, // quoted: a literal, not a list
		{"proc.name in ()", false},
		{"proc.cmdline in (quoted)", false},
		{"proc.name intersects (zsh, bash)", true},
		{"proc.cmdline contains curl", false},
		{"proc.cmdline icontains curl", true},
		{"proc.cmdline contains 'Curl http'", true},
		{`proc.cmdline startswith "bash -c"`, true},
		{"proc.cmdline endswith x'", true},
		{"proc.args contains -c", true},
		{"proc.args = \"-c curl\"", true},
		{"fd.name glob '/home/*/.ssh/*'", true},
		{"fd.name glob /home/?lice/.ssh/id_[a-z]sa", true},
		{"fd.name glob /root/*", false},
		{"fd.name iglob /HOME/*", true},
		{"fd.name pmatch (/home/alice, /etc)", true},
		{"fd.name pmatch (/home/al)", false},
		{"fd.name pmatch (/home/*/.ssh)", true},
		{"fd.directory = /home/alice/.ssh", true},
		{"fd.filename = id_rsa", true},
		{"evt.buffer bcontains cafebabe", true},
		{"evt.buffer bstartswith cafe", true},
		{"evt.buffer bcontains deadbeef", false},
		{"evt.arg.flags contains O_CLOEXEC", true},
		{"evt.arg[flags] contains O_RDONLY", true},
		{"evt.dir=<", true},
		{"evt.res startswith E", true},
		{"proc.aname[2] = sshd", true},
		{"proc.aname = systemd", true}, // any ancestor
		{"proc.aname in (init, sshd)", true},
		{"proc.aname[3] in (sshd)", false},
		{"fd.sip = 10.1.2.3", true},
		{"fd.sip in (10.1.2.4, 10.1.2.3)", true},
		{"fd.snet = 10.0.0.0/8", true},
		{`fd.snet in ("192.168.0.0/16", "172.16.0.0/12")`, false},
		{"fd.types intersects (ipv4)", true},
		{"fd.types in (file, ipv4, ipv6)", true},
		{"fd.types in (file)", false},
		{"proc.name regex '^ba.h$'", true},
		{"is_shell and not proc.name = zsh", true},
		{"(proc.name = sh or proc.name = bash) and (container.id = host)", true},
		{"not not proc.name = bash", true},
		{"proc.name=bash and proc.tty=0 or fd.num=3", true},
		{"proc.name=zsh or proc.tty=1 and fd.num=3", false},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			m, err := compileOne(t, tt.cond, lists, macros)
			if err != nil {
				if tt.cond == "proc.nonexistent.field exists" && errors.Is(err, ErrUnknownField) {
					return
				}
				t.Fatal(err)
			}
			if got := m(ev); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	macros := map[string]string{"loop_a": "loop_b", "loop_b": "proc.name=x and loop_a", "broken": "proc.name ="}
	lists := map[string][]string{"l1": {"l2"}, "l2": {"l1"}}
	tests := []struct {
		cond string
		is   error
		msg  string
	}{
		{"loop_a", ErrCycle, "refers to itself"},
		{"proc.name in (l1)", ErrCycle, "list"},
		{"nosuchmacro", ErrUndefinedMacro, "nosuchmacro"},
		{"broken", ErrSyntax, `macro "broken"`},
		{"proc.tty = abc", ErrBadOperand, "not an integer"},
		{"proc.tty contains 1", ErrBadOperand, "integer"},
		{"evt.is_open_read = maybe", ErrBadOperand, "true or false"},
		{"proc.name[1] = x", ErrBadOperand, "does not take an argument"},
		{"container.mount.dest = x", ErrBadOperand, "needs an argument"},
		{"evt.buffer bcontains xyz", ErrBadOperand, "hex"},
		{"foo.bar = 1 and baz.qux = 2", ErrUnknownField, "baz.qux, foo.bar"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := compileOne(t, tt.cond, lists, macros)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		cond      string
		line, col int
		reason    string
	}{
		{"", 1, 1, "empty condition"},
		{"proc.name =", 1, 12, "expected a value"},
		{"proc.name", 1, 10, "expected an operator"},
		{"proc.name foo bar", 1, 11, "expected an operator"},
		{"(proc.name = a", 1, 15, `expected ")"`},
		{"proc.name = a)", 1, 14, `unexpected ")"`},
		{"proc.name = a and", 1, 18, "unexpected end of condition"},
		{"proc.name in sh", 1, 14, "needs a list"},
		{"proc.name in (a, b", 1, 14, "unterminated list"},
		{"proc.name in (a b)", 1, 17, `expected "," or ")"`},
		{"proc.name = 'abc", 1, 13, "unterminated quoted string"},
		{"proc.name = (a)", 1, 13, "single value"},
		{"tolower(proc.name) = a", 1, 1, "not supported"},
		{"proc.name = val(proc.pname)", 1, 13, "val() is not supported"},
		{"proc.name = a or\n  and", 2, 3, `unexpected "and"`},
		{"proc.aname[2 = x", 1, 11, `unterminated field argument`},
		{"= x", 1, 1, "expected a field"},
		{strings.Repeat("(", 2000) + "a", 1, 1001, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.cond[:min(len(tt.cond), 40)], func(t *testing.T) {
			_, err := ParseCondition(tt.cond)
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want *SyntaxError", err)
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("got %q, want %d:%d: ...%s...", err, tt.line, tt.col, tt.reason)
			}
			if want := strconv.Itoa(tt.line) + ":" + strconv.Itoa(tt.col) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start with position %q", err, want)
			}
		})
	}
}

func TestOutputTemplate(t *testing.T) {
	ev := mustEvent(t, map[string]any{"proc.name": "bash", "proc.aname[2]": "sshd", "proc.tty": 5})
	tests := []struct{ tmpl, want string }{
		{"shell %proc.name", "shell bash"},
		{"gp=%proc.aname[2] ggp=%proc.aname[3]", "gp=sshd ggp=<NA>"},
		{"100%% sure %proc.tty.", "100% sure 5."},
		{"lone % sign and %notafield", "lone % sign and %notafield"},
		{"%proc.name%proc.name", "bashbash"},
	}
	for _, tt := range tests {
		got, fields := parseTemplate(tt.tmpl).render(ev)
		if got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.tmpl, got, tt.want)
		}
		if strings.Contains(tt.tmpl, "aname[3]") && fields["proc.aname[3]"] != "<NA>" {
			t.Errorf("output_fields = %v", fields)
		}
	}
}

func TestAppendOverrideExceptions(t *testing.T) {
	base := `
- required_engine_version: 0.26.0
- list: shells
  items: [sh]
- list: shells
  items: [bash]
  append: true
- macro: in_container
  condition: container.id != host
- rule: Shell
  desc: shell
  condition: evt.type = execve and proc.name in (shells)
  output: "shell %proc.name"
  priority: WARNING
  tags: [a]
  exceptions:
    - name: by_parent
      fields: [proc.pname, proc.cmdline]
      comps: [=, startswith]
      values:
        - [sshd, "bash -l"]
    - name: images
      fields: container.image.repository
      values: [docker.io/library/debian]
- rule: Disabled later
  desc: d
  condition: evt.type = execve
  output: x
  priority: INFO
- rule: Replaced
  desc: first
  condition: evt.type = open
  output: first
  priority: INFO
`
	overlay := `
- rule: Shell
  condition: and in_container
  override:
    condition: append
- rule: Shell
  exceptions:
    - name: by_parent
      values:
        - [cron, "bash -c"]
  append: true
- rule: Shell
  tags: [b]
  priority: CRITICAL
  override:
    tags: append
    priority: replace
- rule: Disabled later
  enabled: false
- rule: Replaced
  desc: second
  condition: evt.type = execve
  output: second
  priority: ERROR
- rule: Nope
  condition: x
  append: true
`
	rs, err := Load([]Source{{Name: "base.yaml", Data: []byte(base)}, {Name: "local.yaml", Data: []byte(overlay)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Skipped) != 0 {
		t.Fatalf("skipped: %+v", rs.Skipped)
	}
	if len(rs.Warnings) != 1 || !strings.Contains(rs.Warnings[0], `"Nope"`) {
		t.Errorf("warnings = %q", rs.Warnings)
	}
	if rs.RequiredEngineVersion != "0.26.0" {
		t.Errorf("RequiredEngineVersion = %q", rs.RequiredEngineVersion)
	}
	if got := []string{rs.Rules[0].Name, rs.Rules[1].Name, rs.Rules[2].Name}; strings.Join(got, ",") != "Shell,Disabled later,Replaced" {
		t.Errorf("order = %v", got)
	}
	shell := rs.Rules[0]
	if shell.Priority != PriorityCritical || strings.Join(shell.Tags, ",") != "a,b" {
		t.Errorf("Shell priority %v tags %v", shell.Priority, shell.Tags)
	}
	if shell.Condition != "evt.type = execve and proc.name in (shells) and in_container" {
		t.Errorf("condition = %q", shell.Condition)
	}
	eng := NewEngine(rs)
	ev := func(m map[string]any) []string { return alertNames(eng.Evaluate(mustEvent(t, m))) }
	base0 := map[string]any{"evt.type": "execve", "proc.name": "bash", "container.id": "abc", "proc.pname": "x", "proc.cmdline": "bash", "container.image.repository": "alpine"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base0 {
			m[a] = b
		}
		m[k] = v
		return m
	}
	if got := ev(base0); strings.Join(got, ",") != "Replaced,Shell" {
		t.Errorf("base event fired %v", got)
	}
	for _, tc := range []map[string]any{
		with("container.id", "host"),
		with("container.image.repository", "docker.io/library/debian"),
		{"evt.type": "execve", "proc.name": "bash", "container.id": "abc", "proc.pname": "sshd", "proc.cmdline": "bash -l", "container.image.repository": "alpine"},
		{"evt.type": "execve", "proc.name": "bash", "container.id": "abc", "proc.pname": "cron", "proc.cmdline": "bash -c true", "container.image.repository": "alpine"},
	} {
		if got := ev(tc); strings.Join(got, ",") != "Replaced" {
			t.Errorf("%v fired %v, want only Replaced", tc, got)
		}
	}
	// Exception tuples need every field to match.
	if got := ev(with("proc.pname", "sshd")); strings.Join(got, ",") != "Replaced,Shell" {
		t.Errorf("partial exception match fired %v", got)
	}
}

func TestAlertJSON(t *testing.T) {
	rs, err := Load([]Source{{Name: "r.yaml", Data: []byte(`
- rule: R
  desc: d
  condition: evt.type = execve
  output: "ran %proc.name (user=%user.name)"
  priority: NOTICE
  tags: [t1]
`)}})
	if err != nil {
		t.Fatal(err)
	}
	eng := NewEngine(rs, WithHostname("node-1"))
	as := eng.Evaluate(mustEvent(t, map[string]any{"evt.type": "execve", "proc.name": "id", "evt.rawtime": int64(1700000000123456789)}))
	if len(as) != 1 {
		t.Fatalf("alerts = %v", as)
	}
	b, err := json.Marshal(as[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"hostname": "node-1", "priority": "Notice", "rule": "R", "source": "syscall",
		"time":   "2023-11-14T22:13:20.123456789Z",
		"output": "22:13:20.123456789: Notice ran id (user=<NA>)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	of := got["output_fields"].(map[string]any)
	if of["proc.name"] != "id" || of["user.name"] != "<NA>" {
		t.Errorf("output_fields = %v", of)
	}
	if as[0].Time != time.Unix(0, 1700000000123456789) {
		t.Errorf("time = %v", as[0].Time)
	}
}

func TestMapEventJSON(t *testing.T) {
	var e MapEvent
	if err := json.Unmarshal([]byte(`{"proc.name":"bash","proc.tty":3,"proc.aname[2]":"sshd","fd.name":"/etc/shadow","proc.args":["-c","id"]}`), &e); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name, arg, want string
	}{
		{"proc.name", "", "bash"}, {"proc.tty", "", "3"}, {"proc.aname", "2", "sshd"}, {"proc.aname", "0", "bash"},
		{"fd.directory", "", "/etc"}, {"fd.filename", "", "shadow"}, {"proc.args", "", "-c id"},
	}
	for _, c := range checks {
		v, ok := e.Field(c.name, c.arg)
		if !ok || v.String() != c.want {
			t.Errorf("%s[%s] = %v %v, want %s", c.name, c.arg, v, ok, c.want)
		}
	}
	if v, _ := e.Field("proc.tty", ""); v.Kind() != KindInt {
		t.Errorf("proc.tty kind = %v", v.Kind())
	}
}

// TestImports pins the package to the standard library and yaml.v3.
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := goparser.ParseFile(token.NewFileSet(), f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p != "gopkg.in/yaml.v3" && strings.Contains(strings.Split(p, "/")[0], ".") {
				t.Errorf("%s imports %s; only the standard library and gopkg.in/yaml.v3 are allowed", f, p)
			}
		}
	}
}
