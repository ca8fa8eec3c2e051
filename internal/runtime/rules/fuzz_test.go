package rules

import (
	"testing"
)

// FuzzParseCondition checks that the parser never panics and that any
// condition it accepts also compiles or fails with a typed error.
// Seeds live in testdata/fuzz/FuzzParseCondition.
func FuzzParseCondition(f *testing.F) {
	f.Add("evt.type in (open, openat) and fd.name startswith /etc and not proc.name = 'vi'")
	lists := map[string][]string{"shells": {"sh", "bash"}}
	macros := map[string]string{"m": "proc.name in (shells)"}
	f.Fuzz(func(t *testing.T, cond string) {
		n, err := ParseCondition(cond)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %v is %T, want *SyntaxError", err, err)
			}
			return
		}
		env := newCompileEnv(lists, macros)
		m, err := env.compile(n)
		if err == nil {
			m(mustEvent(t, map[string]any{"proc.name": "bash", "evt.type": "open", "proc.tty": 1}))
		}
		env.evtTypes(n, 0)
	})
}
