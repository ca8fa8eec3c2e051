// Command recall compares Syft's JSON output with Bulkhead's for the
// ecosystems Bulkhead catalogs, and prints what one reports and the other
// does not (name and version).
//
//	go run ./bench/recall -syft syft.json -bulkhead bulkhead.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
)

// syftTypes maps Syft's artifact types to Bulkhead's package types.
var syftTypes = map[string]string{
	"deb": "deb", "apk": "apk", "rpm": "rpm", "go-module": "go-module", "npm": "npm",
	"python": "python", "java-archive": "java-archive", "jenkins-plugin": "java-archive",
	"rust-crate": "rust-crate", "gem": "gem", "php-composer": "php-composer", "dotnet": "dotnet",
}

func main() {
	syftPath := flag.String("syft", "", "syft -o syft-json output")
	bhPath := flag.String("bulkhead", "", "bulkhead -o json output")
	flag.Parse()
	var s struct {
		Artifacts []struct{ Name, Version, Type string }
	}
	var b struct {
		Packages []struct{ Name, Version, Type string }
	}
	load(*syftPath, &s)
	load(*bhPath, &b)
	syft, bh := map[string]bool{}, map[string]bool{}
	skipped := map[string]int{}
	for _, a := range s.Artifacts {
		t, ok := syftTypes[a.Type]
		if !ok {
			skipped[a.Type]++
			continue
		}
		syft[t+" "+a.Name+" "+a.Version] = true
	}
	for _, p := range b.Packages {
		bh[p.Type+" "+p.Name+" "+p.Version] = true
	}
	missing, extra := diff(syft, bh), diff(bh, syft)
	fmt.Printf("syft: %d packages in compared ecosystems (%d others skipped: %v)\n", len(syft), sum(skipped), skipped)
	fmt.Printf("bulkhead: %d packages\n", len(bh))
	fmt.Printf("reported by syft, missing from bulkhead: %d\n", len(missing))
	for _, m := range missing {
		fmt.Println("  -", m)
	}
	fmt.Printf("reported by bulkhead only: %d\n", len(extra))
	for _, e := range extra {
		fmt.Println("  +", e)
	}
	if len(missing) > 0 {
		os.Exit(1)
	}
}

func load(p string, v any) {
	b, err := os.ReadFile(p)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		log.Fatalf("%s: %v", p, err)
	}
}

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
