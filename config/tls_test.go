package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// writeCert writes a self-signed certificate and its key as PEM files in
// dir and returns their names.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "ca")
	writeCert(t, dir, "client")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not PEM"), 0o600))
	file := filepath.Join(dir, "relay.yml")

	c, err := Parse(file, []byte(`
notifications:
  endpoints:
    - name: mtls
      url: https://hooks.internal/
      tls: {rootcas: [ca.pem], certificate: client.pem, key: client-key.pem}
`), env)
	require.NoError(t, err)
	tr := c.Endpoints[0].Config.Transport
	require.NotNil(t, tr, "TLS files make a transport")
	require.NotNil(t, tr.TLSClientConfig.RootCAs)
	assert.Len(t, tr.TLSClientConfig.Certificates, 1)
	assert.Equal(t, TLSFiles{RootCAs: []string{filepath.Join(dir, "ca.pem")}, Certificate: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client-key.pem")}, c.Endpoints[0].TLS)

	tests := []struct{ name, tls, want string }{
		{"not PEM", "{rootcas: [junk.pem]}", "holds no PEM certificate"},
		{"key of another certificate", "{certificate: client.pem, key: ca-key.pem}", "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, []byte("notifications:\n  endpoints:\n    - name: a\n      url: https://a/\n      tls: "+tt.tls+"\n"), env)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "notifications.endpoints[0].tls", ce.Key)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	// A certificate or key file that cannot be read is a secret source
	// missing, as a root CA's is.
	_, err = Parse(file, []byte("notifications:\n  endpoints:\n    - name: a\n      url: https://a/\n      tls: {certificate: gone.pem, key: client-key.pem}\n"), env)
	assert.ErrorIs(t, err, ErrSecretSource)

	// The relay's connection to NATS: its files are read by Parse too.
	_, err = Parse(file, []byte("relay:\n  jetstream: {url: nats://a:4222, stream: s, durable: d, tls: {rootcas: [junk.pem]}}\nnotifications:\n  endpoints: [{name: a, url: http://a/}]\n"), env)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "relay.jetstream.tls", ce.Key)
	assert.Contains(t, err.Error(), "holds no PEM certificate")
}

// An endpoint with TLS files behind the private-network guard opens: its
// transport leaves the dialling to the guard (OpenEndpoint refuses a
// transport with a dial function of its own when the guard is on).
func TestTLSFilesWithBlockPrivateNetworks(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "ca")
	c, err := Parse(filepath.Join(dir, "relay.yml"), []byte(`
notifications:
  endpoints:
    - name: guarded
      url: https://hooks.example/
      blockprivatenetworks: true
      tls: {rootcas: [ca.pem]}
`), env)
	require.NoError(t, err)
	e, err := notifications.OpenEndpoint(c.Endpoints[0].Name, c.Endpoints[0].URL, c.Endpoints[0].Config)
	require.NoError(t, err)
	assert.NoError(t, e.Close())
}
