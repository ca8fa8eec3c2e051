package compliance

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCheck1000Manifests scans a directory of 1000 manifest files
// (each a Deployment and a Service) with every built-in check.
func BenchmarkCheck1000Manifests(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		doc := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: registry.example.com/app:1.%d
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          resources: {limits: {cpu: 100m, memory: 64Mi}}
        - name: sidecar
          image: envoy
---
apiVersion: v1
kind: Service
metadata:
  name: app-%d
spec:
  type: NodePort
`, i, i, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%04d.yaml", i)), []byte(doc), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := builtin(); err != nil { // compile outside the timer
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rs, err := CheckPaths([]string{dir})
		if err != nil || len(rs) == 0 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "files/s")
}
