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
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

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

// guard refuses plain HTTP to the registry when TLS is to be verified, and
// follows redirects itself (see follow).
type guard struct {
	base http.RoundTripper
	host string
	tls  bool
}

// maxRedirects is Go's (and so skopeo's) limit.
const maxRedirects = 10

// redirectError is a chain of redirects too long to follow.
type redirectError struct{ from, to string }

func (e redirectError) Error() string {
	return fmt.Sprintf("stopped after %d redirects (the last from %s to %s): a redirect loop?", maxRedirects, e.from, e.to)
}

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	return g.follow(req)
}

// follow sends req and follows the redirects of a request without a body,
// up to maxRedirects, to any host, as skopeo does. It is done here, below
// go-containerregistry's http.Client, because that client's redirect check
// has no limit (a blob that redirects to itself is fetched forever) and
// refuses redirects to private addresses (a self-hosted registry whose blob
// store is another internal host). The client then never sees a redirect.
// Credentials go only to the host they were sent to: go-containerregistry
// adds them to the first request, and they are dropped for any other host.
func (g guard) follow(req *http.Request) (*http.Response, error) {
	origin := canonicalHost(req.URL)
	for n := 0; ; n++ {
		if g.tls && req.URL.Scheme == "http" && req.URL.Host == g.host {
			return nil, plainHTTPError{g.host}
		}
		resp, err := g.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		if loc == "" || (req.Body != nil && req.Body != http.NoBody) {
			return resp, nil // nothing to follow, or a body that cannot be sent again
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%s redirected to %q, which is not a URL: %w", redacted(req.URL), loc, err)
		}
		// A little of the body lets the connection be reused.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		if n == maxRedirects {
			return nil, redirectError{redacted(req.URL), redacted(next)}
		}
		r := req.Clone(req.Context())
		r.URL, r.Host = next, ""
		if resp.StatusCode == http.StatusSeeOther && r.Method != http.MethodHead {
			r.Method = http.MethodGet
		}
		if canonicalHost(next) != origin {
			for _, h := range []string{"Authorization", "Cookie", "Www-Authenticate"} {
				r.Header.Del(h)
			}
		}
		req = r
	}
}

// canonicalHost is a URL's host with its port, for telling hosts apart.
func canonicalHost(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// redacted is a URL for an error message: blob stores' redirect targets
// carry signatures in their query.
func redacted(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

// DefaultIdleTimeout is how long a download may receive nothing before it
// fails: $DOCKERTOOLS_IDLE_TIMEOUT seconds, else 5 minutes.
func DefaultIdleTimeout() (time.Duration, error) {
	v := os.Getenv("DOCKERTOOLS_IDLE_TIMEOUT")
	if v == "" {
		return 5 * time.Minute, nil
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s <= 0 {
		return 0, fmt.Errorf("DOCKERTOOLS_IDLE_TIMEOUT %q is not a positive number of seconds", v)
	}
	return time.Duration(s * float64(time.Second)), nil
}

// idleTimeoutError is a connection that sent nothing for the idle timeout.
// It is not Temporary, so go-containerregistry does not retry it (a silent
// registry would otherwise cost several timeouts); pull's own layer retry
// still tries a layer again.
type idleTimeoutError struct {
	d   time.Duration
	err error
}

func (e *idleTimeoutError) Error() string {
	return fmt.Sprintf("the server sent nothing for %v (the idle timeout): %v", e.d, e.err)
}
func (e *idleTimeoutError) Unwrap() error   { return e.err }
func (e *idleTimeoutError) Timeout() bool   { return true }
func (e *idleTimeoutError) Temporary() bool { return false }

// idleConn fails a read or write that makes no progress for d. The deadline
// moves on at each call, so a big layer may take as long as it needs while
// bytes keep arriving; a write also moves the deadline of a pending read (a
// pooled connection's, waiting for its next answer).
type idleConn struct {
	net.Conn
	d time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.d))
	n, err := c.Conn.Read(p)
	return n, c.wrap(err)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.d))
	n, err := c.Conn.Write(p)
	return n, c.wrap(err)
}

func (c *idleConn) wrap(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &idleTimeoutError{c.d, err}
	}
	return err
}

func newTransport(host string, tlsVerify bool, idle time.Duration) http.RoundTripper {
	var t *http.Transport
	if dt, ok := remote.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	if !tlsVerify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	// Every read, the TLS handshake's included, goes through idleConn.
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, d: idle}, nil
	}
	return guard{base: t, host: host, tls: tlsVerify}
}

func newPuller(ctx context.Context, repo name.Repository, tlsVerify bool, idle time.Duration, parallel int, log io.Writer) (*puller, error) {
	host := repo.RegistryStr()
	r, err := remote.NewPuller(
		remote.WithContext(ctx),
		remote.WithTransport(newTransport(host, tlsVerify, idle)),
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
