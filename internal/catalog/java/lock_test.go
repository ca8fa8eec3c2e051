package java

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/catalogtest"
)

var _ catalog.Cataloger = (*LockCataloger)(nil)

func TestLockWants(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/src/app/gradle.lockfile", true},
		{"/src/app/buildscript-gradle.lockfile", true},
		{"/src/app/pom.xml", true},
		{"/src/app/mypom.xml", false},
		{"/src/app/xgradle.lockfile", false},
		{"/src/app/build.gradle", false},
	}
	for _, tt := range tests {
		if got := NewLock().Wants(tt.path, 0o644); got != tt.want {
			t.Errorf("Wants(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestLockGolden(t *testing.T) {
	pkgs := catalogtest.Run(t, NewLock(), filepath.Join("testdata", "lock"))
	catalogtest.Golden(t, filepath.Join("testdata", "golden", "lock.json"), pkgs)
}

func TestPomXMLDetails(t *testing.T) {
	pom := `<project>
  <parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>7</version></parent>
  <artifactId>child</artifactId>
  <properties><a.version>${b.version}</a.version><b.version>1.2</b.version><loop>${loop}</loop></properties>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.m</groupId><artifactId>managed</artifactId><version>3.0</version></dependency>
  </dependencies></dependencyManagement>
  <dependencies>
    <dependency><groupId>org.a</groupId><artifactId>a</artifactId><version>${a.version}</version></dependency>
    <dependency><groupId>${project.groupId}</groupId><artifactId>sib</artifactId><version>${project.version}</version><scope>test</scope></dependency>
    <dependency><groupId>org.m</groupId><artifactId>managed</artifactId></dependency>
    <dependency><groupId>org.x</groupId><artifactId>x</artifactId><version>${loop}</version></dependency>
    <dependency><groupId>org.y</groupId><artifactId>y</artifactId><version>${from.parent}</version></dependency>
  </dependencies>
</project>`
	pkgs, err := parsePomXML(strings.NewReader(pom), "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.PURL+" "+p.Scope)
	}
	want := []string{
		"pkg:maven/org.p/child@7 ",
		"pkg:maven/org.a/a@1.2 ",
		"pkg:maven/org.p/sib@7 dev",
		"pkg:maven/org.m/managed@3.0 ",
		"pkg:maven/org.x/x ",
		"pkg:maven/org.y/y ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := parsePomXML(strings.NewReader("<project><dependencies>"), "x"); err == nil {
		t.Error("truncated pom.xml: no error")
	}
}

// TestLockRecallAgainstSyft checks that every (name, version) Syft 1.57.1
// reported for the shared gradle.lockfile and pom.xml fixtures is reported
// here too. Syft's counts match ours exactly: it reports test-scoped and
// test-configuration dependencies as well (we mark them Scope "dev").
func TestLockRecallAgainstSyft(t *testing.T) {
	catalogtest.ExactRecallVsSyft(t, NewLock(), catalogtest.SharedData(t, "lockfiles", "java"))
}

func FuzzParseGradleLockfile(f *testing.F) {
	f.Add([]byte("a:b:1=testRuntimeClasspath\nempty=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = NewLock().Parse(context.Background(), catalogtest.NewInput("/gradle.lockfile", data))
	})
}

func FuzzParsePomXML(f *testing.F) {
	f.Add([]byte("<project><artifactId>a</artifactId><properties><v>${v}${v}</v></properties></project>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = NewLock().Parse(context.Background(), catalogtest.NewInput("/pom.xml", data))
	})
}
