package notifications

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEndpointTLSWithCallersTransport(t *testing.T) {
	rc := newUnstartedReceiver(t, nil)
	rc.StartTLS()
	trusting := rc.Client().Transport.(*http.Transport)
	before := trusting.Clone()

	config := fastConfig()
	config.Transport = trusting
	e, err := OpenEndpoint("tls", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("tls", 3)...))
	require.NoError(t, e.Close())
	assert.Equal(t, []string{"tls-0", "tls-1", "tls-2"}, ids(rc.received()))
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 3, m.Successes)
	assert.Same(t, trusting, e.Transport, "the endpoint's config shows the caller's transport")
	assert.Equal(t, before.TLSClientConfig.RootCAs, trusting.TLSClientConfig.RootCAs, "the caller's transport is not modified")

	// Without a transport that trusts the server's certificate, no delivery.
	d := newHTTPDeliverer(rc.URL, fastConfig())
	defer d.Close()
	got := d.Deliver(t.Context(), testEvents("untrusted", 1))
	assert.Equal(t, Retry, got.Outcome)
	assert.Empty(t, got.Status, "a TLS failure is an error, not a failure")
	assert.ErrorContains(t, got.Err, "certificate")
	assert.Len(t, rc.received(), 3)
}

func TestEndpointMutualTLS(t *testing.T) {
	ca, caKey := newTestCA(t, "regnotify test CA")
	other, otherKey := newTestCA(t, "another CA")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca)

	rc := newUnstartedReceiver(t, nil)
	rc.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12}
	rc.StartTLS()
	roots := x509.NewCertPool()
	roots.AddCert(rc.Certificate())

	transport := func(certs ...tls.Certificate) *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}
	}
	tests := []struct {
		name   string
		config func() *http.Transport
		ok     bool
	}{
		{"client certificate", func() *http.Transport { return transport(newClientCert(t, ca, caKey)) }, true},
		{"no client certificate", func() *http.Transport { return transport() }, false},
		{"certificate of another CA", func() *http.Transport { return transport(newClientCert(t, other, otherKey)) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := fastConfig()
			config.Transport = tt.config()
			if !tt.ok {
				d := newHTTPDeliverer(rc.URL, config)
				defer d.Close()
				got := d.Deliver(t.Context(), testEvents("refused", 1))
				assert.Equal(t, Retry, got.Outcome)
				assert.Empty(t, got.Status)
				assert.Error(t, got.Err)
				return
			}
			e, err := OpenEndpoint("mtls", rc.URL, config)
			require.NoError(t, err)
			require.NoError(t, e.Write(testEvents("mtls", 2)...))
			require.NoError(t, e.Close())
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 2, m.Successes)
			assert.Zero(t, m.Errors)
		})
	}
	assert.Equal(t, []string{"mtls-0", "mtls-1"}, ids(rc.received()), "only the client with a certificate got through")
}

// newTestCA returns a self-signed CA certificate and its key.
func newTestCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// newClientCert returns a client certificate issued by ca.
func newClientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "registry"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A TLS configuration that leaves no version made every request fail, for
// ever: OpenEndpoint refuses it. Versions that meet, and the defaults, are
// taken.
func TestOpenEndpointRefusesTLSVersionsThatCannotMeet(t *testing.T) {
	tests := []struct {
		name     string
		min, max uint16
		want     string // the error; empty: taken
	}{
		{"max below min", tls.VersionTLS13, tls.VersionTLS12, "MaxVersion TLS 1.2 is below its MinVersion TLS 1.3"},
		{"max below the default min", 0, tls.VersionTLS11, "MaxVersion TLS 1.1 is below its MinVersion TLS 1.2"},
		{"max equal to min", tls.VersionTLS12, tls.VersionTLS12, ""},
		{"only a min", tls.VersionTLS13, 0, ""},
		{"only a max", 0, tls.VersionTLS13, ""},
	}
	// Where the configuration is not used, it is not checked.
	plain := &http.Transport{TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS11}}
	e, err := OpenEndpoint("http", "http://127.0.0.1:1/", EndpointConfig{Transport: plain, Logger: testLogger()})
	require.NoError(t, err, "an http URL speaks no TLS")
	require.NoError(t, e.Close())
	ownTLS := &http.Transport{TLSClientConfig: plain.TLSClientConfig, DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("unused") }}
	e, err = OpenEndpoint("own-tls", "https://127.0.0.1:1/", EndpointConfig{Transport: ownTLS, Logger: testLogger()})
	require.NoError(t, err, "a transport that dials TLS itself does not use TLSClientConfig")
	require.NoError(t, e.Close())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := EndpointConfig{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tt.min, MaxVersion: tt.max}}, Logger: testLogger()}
			e, err := OpenEndpoint("tls", "https://127.0.0.1:1/", config)
			if tt.want == "" {
				require.NoError(t, err)
				require.NoError(t, e.Close())
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, tt.want)
			assert.Nil(t, e)
		})
	}
}
