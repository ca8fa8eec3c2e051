package selector

import "testing"

func TestParseAndMatch(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front", "env": "prod", "com.docker.compose.project": "shop"}
	tests := []struct {
		sel   string
		canon string
		match bool
	}{
		{"", "", true},
		{"app=web", "app=web", true},
		{"app==web", "app=web", true},
		{"app = web , tier!=db", "app=web,tier!=db", true},
		{"app=api", "app=api", false},
		{"missing!=x", "missing!=x", true},
		{"env in (stage, prod)", "env in (prod,stage)", true},
		{"env notin (prod)", "env notin (prod)", false},
		{"missing notin (a)", "missing notin (a)", true},
		{"app", "app", true},
		{"!canary", "!canary", true},
		{"!app", "!app", false},
		{"com.docker.compose.project=shop,e", "com.docker.compose.project=shop,e", false},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			s, err := Parse(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tt.canon {
				t.Errorf("String() = %q, want %q", got, tt.canon)
			}
			if got := s.Matches(labels); got != tt.match {
				t.Errorf("Matches = %v, want %v", got, tt.match)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"=x", "a in x", "a in (x", "a ~ b", "a=b,,c", "!", "a=b c"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=b,c!=d,e", "x in (1,2)", "!y", "k notin ( a , b )"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(sel.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", sel.String(), s, err)
		}
		if again.String() != sel.String() {
			t.Fatalf("not stable: %q -> %q", sel.String(), again.String())
		}
	})
}
