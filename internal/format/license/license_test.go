package license

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"MIT", "MIT", true},
		{" apache-2.0 ", "Apache-2.0", true},
		{"Classpath-exception-2.0", "Classpath-exception-2.0", true},
		{"BSD-style", "", false},
		{"", "", false},
	} {
		got, ok := ID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"MIT", "MIT", true},
		{"mit or apache-2.0", "MIT OR Apache-2.0", true},
		{"GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0", true},
		{"(MIT OR Apache-2.0) AND BSD-3-Clause", "(MIT OR Apache-2.0) AND BSD-3-Clause", true},
		{"((MIT))", "((MIT))", true},
		{"GPL-2.0+", "GPL-2.0+", true},
		{"LGPL-2.1+ AND LicenseRef-foo.bar", "LGPL-2.1+ AND LicenseRef-foo.bar", true},
		{"DocumentRef-x:LicenseRef-y", "DocumentRef-x:LicenseRef-y", true},
		{"MIT Or Apache-2.0", "", false}, // mixed-case operator
		{"MIT AND", "", false},
		{"(MIT", "", false},
		{"MIT)", "", false},
		{"MIT WITH Apache-2.0 WITH x", "", false},
		{"BSD-style", "", false},
		{"Custom: see LICENSE", "", false},
		{"LicenseRef-", "", false},
		{"", "", false},
		{strings.Repeat("(", 100) + "MIT" + strings.Repeat(")", 100), "", false},
	} {
		got, ok := Normalize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHasOperator(t *testing.T) {
	for in, want := range map[string]bool{
		"MIT OR Apache-2.0":      true,
		"GPL-2.0 with Classpath": true,
		"(MIT)AND(BSD-2-Clause)": true,
		"MIT":                    false,
		"ANDROID license":        false,
		"MIT/ORACLE":             false,
	} {
		if got := HasOperator(in); got != want {
			t.Errorf("HasOperator(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestIDsMatchSchema fails when ids.go is stale: run go generate.
func TestIDsMatchSchema(t *testing.T) {
	raw, err := os.ReadFile("../cyclonedx/testdata/schema/spdx.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Enum []string `json:"enum"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.Enum)
	if !slices.Equal(s.Enum, ids[:]) {
		t.Fatal("ids.go does not match the vendored spdx.schema.json; run go generate ./internal/format/license")
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := Normalize(s)
		if !ok {
			return
		}
		// A normalized expression is a fixed point.
		if n2, ok := Normalize(n); !ok || n2 != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that = %q, %v", s, n, n2, ok)
		}
	})
}
