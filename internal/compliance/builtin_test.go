package compliance

import "testing"

func TestBuiltinChecksCompile(t *testing.T) {
	e, err := builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Checks()) == 0 {
		t.Fatal("no built-in checks")
	}
}
