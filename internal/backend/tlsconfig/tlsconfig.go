// Package tlsconfig builds the client TLS configuration of every engine from
// the modes the server kinds share (spec.tls.mode), the CA bundle and the
// optional client certificate. No Kubernetes or driver imports.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// Material is what the server's Secrets hold for TLS.
type Material struct {
	// Mode is disable (or empty), require (encrypted, unverified, as in
	// libpq), verify-ca (the chain must reach CAPEM) or verify-full (and the
	// certificate must name Host).
	Mode string
	// Host is the name verify-full checks.
	Host string
	// CAPEM is the PEM CA bundle, needed by the verify modes.
	CAPEM []byte
	// CertPEM and KeyPEM are the client certificate and key (mutual TLS);
	// both empty for none.
	CertPEM, KeyPEM []byte
}

// Build returns the client configuration for m; nil for mode disable.
// Errors are backenderr.Invalid and never quote the key.
func Build(m Material) (*tls.Config, error) {
	var cfg *tls.Config
	switch m.Mode {
	case "", "disable":
		return nil, nil
	case "require":
		cfg = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // require means encrypted, unverified, as in libpq.
	case "verify-ca", "verify-full":
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(m.CAPEM) {
			return nil, backenderr.Invalid("tls: the CA Secret holds no PEM certificate")
		}
		if m.Mode == "verify-full" {
			cfg = &tls.Config{RootCAs: roots, ServerName: m.Host, MinVersion: tls.VersionTLS12}
		} else {
			cfg = verifyChain(roots)
		}
	default:
		return nil, backenderr.Invalid("tls: unknown mode %q", m.Mode)
	}
	if len(m.CertPEM) > 0 || len(m.KeyPEM) > 0 {
		cert, err := tls.X509KeyPair(m.CertPEM, m.KeyPEM)
		if err != nil {
			return nil, backenderr.Invalid("tls: the client certificate Secret does not hold a matching PEM certificate and key")
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// verifyChain checks that the server's chain reaches roots without checking
// its name (verify-ca). VerifyConnection also runs on resumed sessions.
func verifyChain(roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // verification happens in VerifyConnection.
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			certs := cs.PeerCertificates
			if len(certs) == 0 {
				return errors.New("server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		},
	}
}
