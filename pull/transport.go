package pull

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// plainHTTPError is returned for a plain-HTTP request to the registry while
// tlsVerify is on. go-containerregistry tries plain HTTP after HTTPS for
// localhost, 127.0.0.1 and private addresses whatever it is told; skopeo (and
// so nixpkgs) does not, and credentials must not go out unencrypted.
type plainHTTPError struct{ host string }

func (e plainHTTPError) Error() string {
	return fmt.Sprintf("not using plain HTTP to %s while tlsVerify is true", e.host)
}

// guard refuses plain HTTP to the registry when TLS is to be verified.
type guard struct {
	base http.RoundTripper
	host string
	tls  bool
}

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.tls && req.URL.Scheme == "http" && req.URL.Host == g.host {
		return nil, plainHTTPError{g.host}
	}
	return g.base.RoundTrip(req)
}

func newTransport(host string, tlsVerify bool) http.RoundTripper {
	var t *http.Transport
	if dt, ok := remote.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	if !tlsVerify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return guard{base: t, host: host, tls: tlsVerify}
}

func newPuller(ctx context.Context, repo name.Repository, tlsVerify bool, parallel int, log io.Writer) (*puller, error) {
	host := repo.RegistryStr()
	r, err := remote.NewPuller(
		remote.WithContext(ctx),
		remote.WithTransport(newTransport(host, tlsVerify)),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithJobs(parallel),
		remote.WithUserAgent("dockertools"),
	)
	if err != nil {
		return nil, err
	}
	return &puller{r: r, repo: repo, host: host, tls: tlsVerify, parallel: parallel, log: &logger{w: log}}, nil
}

// status is the HTTP status of a registry's error answer, or 0.
func status(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// explain puts the usual failures in words. go-containerregistry's errors
// carry the request's method and URL (never its headers), so they hold no
// credentials.
func (p *puller) explain(err error) error {
	var (
		op  *net.OpError
		dns *net.DNSError
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
	)
	switch {
	case p.tls && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("the registry %s speaks plain HTTP, which needs tlsVerify = false: %w", p.host, err)
	case errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci):
		return fmt.Errorf("the registry %s has a TLS certificate that is not trusted (tlsVerify = false skips the check): %w", p.host, err)
	case errors.As(err, &dns):
		return fmt.Errorf("the registry %s is unreachable (its name does not resolve): %w", p.host, err)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("the registry %s is unreachable: %w", p.host, err)
	}
	switch status(err) {
	case http.StatusUnauthorized:
		const where = "$DOCKER_CONFIG/config.json or ~/.docker/config.json, else $REGISTRY_AUTH_FILE"
		if a, kerr := authn.DefaultKeychain.Resolve(p.repo); kerr == nil && a == authn.Anonymous {
			return fmt.Errorf("the registry %s wants credentials and none were found for it in %s (or the repository %s does not exist): %w", p.host, where, p.repo.RepositoryStr(), err)
		}
		return fmt.Errorf("the registry %s refused the credentials found for it in %s: %w", p.host, where, err)
	case http.StatusForbidden:
		return fmt.Errorf("the registry %s denied access to %s: %w", p.host, p.repo.RepositoryStr(), err)
	case http.StatusTooManyRequests:
		return fmt.Errorf("the registry %s limits the rate of pulls; try again later or log in: %w", p.host, err)
	}
	return err
}
