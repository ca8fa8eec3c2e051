package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/server"
)

func issue(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestClientCertificateAuthenticatesAgents: a verified client certificate
// stands for the agent named by its CN on agent routes, and is refused on
// admin routes; an unverified one is no credential.
func TestClientCertificateAuthenticatesAgents(t *testing.T) {
	st := sqliteStore(t)
	s, err := server.New(server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ca, caKey, _ := issue(t, "bulkhead-ca", nil, nil, true, x509.ExtKeyUsageAny)
	_, _, serverCert := issue(t, "127.0.0.1", ca, caKey, false, x509.ExtKeyUsageServerAuth)
	_, _, clientCert := issue(t, "node-7", ca, caKey, false, x509.ExtKeyUsageClientAuth)
	rogueCA, rogueKey, _ := issue(t, "rogue", nil, nil, true, x509.ExtKeyUsageAny)
	_, _, rogueCert := issue(t, "node-7", rogueCA, rogueKey, false, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	hs.StartTLS()
	defer hs.Close()
	client := func(cert *tls.Certificate) *api.Client {
		cfg := &tls.Config{RootCAs: pool}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		c, err := api.NewClient(hs.URL, "", api.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	agent := client(&clientCert)
	er, err := agent.Enroll(ctx, api.EnrollRequest{Hostname: "node-7"})
	if err != nil || er.AgentID != "node-7" {
		t.Fatalf("enroll with a client certificate: %+v %v", er, err)
	}
	b := api.Batch{AgentID: "node-7", Stream: "s", Host: "node-7", Items: []api.Item{{Seq: 1, Type: api.ItemHost, Host: &api.Host{Name: "node-7"}}}}
	if r, err := agent.Ingest(ctx, b); err != nil || r.AckSeq != 1 {
		t.Fatalf("ingest with a client certificate: %+v %v", r, err)
	}
	b.AgentID = "node-8"
	if _, err := agent.Ingest(ctx, b); !isStatus(err, 403) {
		t.Fatalf("ingest as another agent: %v", err)
	}
	if _, err := agent.Containers(ctx, api.Filter{}); !isStatus(err, 403) {
		t.Fatalf("admin route with a client certificate: %v", err)
	}
	if _, err := client(nil).Enroll(ctx, api.EnrollRequest{Hostname: "x"}); !isStatus(err, 401) {
		t.Fatalf("no certificate, no token: %v", err)
	}
	// A certificate from another CA fails the TLS handshake.
	if _, err := client(&rogueCert).Enroll(ctx, api.EnrollRequest{Hostname: "node-7"}); err == nil {
		t.Fatal("certificate from an unknown CA accepted")
	}
}
