package secrets

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testRand makes the "random" test secrets reproducible: a fresh
// crypto-random string of 24 characters falls under the generic rule's
// entropy floor now and then, and a test must not pass or fail by chance.
var testRand = mrand.New(mrand.NewPCG(0x5eC12e75, 2026))

// randomFrom returns n pseudo-random characters of alphabet (fixed seed).
func randomFrom(t testing.TB, alphabet string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[testRand.IntN(len(alphabet))])
	}
	return b.String()
}

const (
	upperB32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b64      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	hexd     = "0123456789abcdef"
)

// RSAKeyPEM is a freshly generated private key: tests never carry one.
func RSAKeyPEM(t testing.TB) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestScan(t *testing.T) {
	openssh := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString([]byte(randomFrom(t, alnum, 300))) + "\n-----END OPENSSH PRIVATE KEY-----\n"
	akid := "AKIA" + randomFrom(t, upperB32, 16)
	secret := randomFrom(t, b64, 40)
	tests := []struct {
		name string
		data string
		want []string // rule ids
		line int      // line of the first finding
	}{
		{"rsa key", "# key\n" + RSAKeyPEM(t), []string{"private-key"}, 2},
		{"openssh key", openssh, []string{"private-key"}, 1},
		{"aws credentials file", "[default]\naws_access_key_id = " + akid + "\naws_secret_access_key = " + secret + "\n", []string{"aws-access-key-id", "aws-secret-access-key"}, 2},
		{"gcp service account", `{"type": "service_account", "project_id": "p", "private_key_id": "` + randomFrom(t, hexd, 40) + `", "client_email": "a@p.iam.gserviceaccount.com"}`, []string{"gcp-service-account"}, 1},
		{"github token", "GITHUB_TOKEN=ghp_" + randomFrom(t, alnum, 36) + "\n", []string{"github-token"}, 1},
		{"gitlab token", "token: glpat-" + randomFrom(t, alnum, 20) + "\n", []string{"gitlab-token"}, 1},
		{"slack token", "x\nSLACK=xoxb-" + randomFrom(t, "0123456789", 12) + "-" + randomFrom(t, alnum, 24) + "\n", []string{"slack-token"}, 2},
		{"slack webhook", "url: https://hooks.slack.com/services/T" + randomFrom(t, upperB32, 10) + "/B" + randomFrom(t, upperB32, 10) + "/" + randomFrom(t, alnum, 24), []string{"slack-webhook"}, 1},
		{"generic", "db:\n  password: " + randomFrom(t, alnum, 24) + "\n", []string{"generic-secret"}, 2},
		// Negatives.
		{"aws example key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n", nil, 0},
		{"public key", "-----BEGIN PUBLIC KEY-----\n" + base64.StdEncoding.EncodeToString([]byte(randomFrom(t, alnum, 200))) + "\n-----END PUBLIC KEY-----\n", nil, 0},
		{"low-entropy key body", "-----BEGIN RSA PRIVATE KEY-----\n" + strings.Repeat("A", 200) + "\n-----END RSA PRIVATE KEY-----\n", nil, 0},
		{"placeholder password", "password: changeme-please-now\nPASSWORD=${DB_PASSWORD}\n", nil, 0},
		{"low-entropy password", "password=aaaaaaaaaaaaaaaaaaaaaaaa\n", nil, 0},
		{"path value", "secret_file=/run/secrets/db_password_file\n", nil, 0},
		{"binary", "\x00\x01" + RSAKeyPEM(t), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Scan([]byte(tt.data))
			var got []string
			for _, f := range fs {
				got = append(got, f.Rule)
				if strings.Contains(tt.data, f.Match) && len(f.Match) > 12 {
					t.Errorf("match %q is not redacted", f.Match)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("rules %v, want %v (%+v)", got, tt.want, fs)
			}
			if len(fs) > 0 && fs[0].Line != tt.line {
				t.Errorf("line %d, want %d", fs[0].Line, tt.line)
			}
		})
	}
}

func TestScanBounded(t *testing.T) {
	data := []byte(strings.Repeat("x", MaxBytes) + "\naws_access_key_id = AKIA" + randomFrom(t, upperB32, 16))
	if fs := Scan(data); len(fs) != 0 {
		t.Errorf("found %v past MaxBytes", fs)
	}
}

func TestEntropy(t *testing.T) {
	if e := Entropy([]byte("aaaa")); e != 0 {
		t.Errorf("%v", e)
	}
	if e := Entropy([]byte("abcd")); e != 2 {
		t.Errorf("%v", e)
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("aws_secret_access_key = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"))
	f.Add([]byte(`{"type": "service_account", "private_key_id": "0123456789012345678901234567890123456789"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fd := range Scan(data) {
			if fd.Line < 1 || fd.Rule == "" {
				t.Fatalf("%+v", fd)
			}
		}
	})
}
