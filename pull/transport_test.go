package pull

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// headerLog records the Authorization header of each request a server gets.
type headerLog struct {
	mu   sync.Mutex
	auth []string
}

func (l *headerLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.auth = append(l.auth, r.Header.Get("Authorization"))
}

func (l *headerLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.auth...)
}

// clientLike is the http.Client go-containerregistry makes around our
// transport: its redirect check never stops a chain.
func clientLike(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
}

func TestRedirectTransport(t *testing.T) {
	var other headerLog
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		io.WriteString(w, "blob")
	}))
	defer store.Close()
	var reg headerLog
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.add(r)
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/away":
			http.Redirect(w, r, store.URL+"/blob?X-Signature=s3cr3t", http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, "/blob", http.StatusTemporaryRedirect)
		default:
			io.WriteString(w, "blob")
		}
	}))
	defer registry.Close()
	host := strings.TrimPrefix(registry.URL, "http://")

	tests := []struct {
		name, path, auth string
		err              string
		regAuth          int // requests to the registry with credentials
		otherRequests    int
	}{
		{"loop", "/loop", "Bearer token", "stopped after 10 redirects", maxRedirects + 1, 0},
		{"another host, basic", "/away", "Basic bml4OnMzY3IzdA==", "", 1, 1},
		{"another host, bearer", "/away", "Bearer token", "", 1, 1},
		{"same host", "/here", "Bearer token", "", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg.mu.Lock()
			reg.auth = nil
			reg.mu.Unlock()
			other.mu.Lock()
			other.auth = nil
			other.mu.Unlock()
			req, _ := http.NewRequest(http.MethodGet, registry.URL+tt.path, nil)
			req.Header.Set("Authorization", tt.auth)
			start := time.Now()
			resp, err := clientLike(newTransport(host, false, time.Minute)).Do(req)
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "blob" {
					t.Fatalf("got %q", b)
				}
			}
			withAuth := 0
			for _, a := range reg.get() {
				if a == tt.auth {
					withAuth++
				}
			}
			if withAuth != tt.regAuth || len(reg.get()) != tt.regAuth {
				t.Errorf("the registry got %d requests, %d with credentials; want %d with", len(reg.get()), withAuth, tt.regAuth)
			}
			if got := other.get(); len(got) != tt.otherRequests {
				t.Errorf("the other host got %d requests, want %d", len(got), tt.otherRequests)
			}
			for _, a := range other.get() {
				if a != "" {
					t.Errorf("the other host got credentials %q", a)
				}
			}
		})
	}
}

// TestRedirectPull pulls from a registry that needs credentials and
// redirects its blobs.
func TestRedirectPull(t *testing.T) {
	isolate(t)
	const user, pass = "nix", "s3cr3t-Pa55"
	s := newServer(t, false)
	im := build(t, spec{os: "linux", arch: "amd64", comp: []string{"gzip", "gzip"}, seed: "redirect"})
	push(t, s.host, "private/app", im, "")
	var other headerLog
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		s.reg.ServeHTTP(w, r)
	}))
	defer store.Close()
	var loops sync.Map
	s.mu.Lock()
	s.user, s.pass = user, pass
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{s.host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}})
	os.MkdirAll(os.Getenv("DOCKER_CONFIG"), 0o755)
	if err := os.WriteFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		redirect func(r *http.Request) string
		err      string
	}{
		{"to itself", func(r *http.Request) string {
			n, _ := loops.LoadOrStore("n", new(int))
			*n.(*int)++
			return r.URL.Path
		}, "stopped after 10 redirects"},
		{"to another host", func(r *http.Request) string { return store.URL + r.URL.Path }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.mu.Lock()
			s.redirect = tt.redirect
			s.mu.Unlock()
			start := time.Now()
			got, _, err := pull(t, opts(s.host, "private/app", im))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if tt.err != "" {
				t.Log(err)
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if n, _ := loops.Load("n"); n != nil && *n.(*int) > 10*(maxRedirects+1) {
					t.Errorf("%d redirects", *n.(*int))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, expected(t, im, "final/name:v1")) {
				t.Fatal("wrong archive")
			}
			// The config and both layers came from the other host.
			if got := other.get(); len(got) != 3 {
				t.Errorf("the other host got %d requests, want 3", len(got))
			}
			for _, a := range other.get() {
				if a != "" {
					t.Errorf("the other host got credentials %q", a)
				}
			}
		})
	}
}

// silent accepts connections and never answers.
func silent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestIdleTimeout(t *testing.T) {
	isolate(t)
	const idle = 200 * time.Millisecond
	for _, tlsVerify := range []bool{false, true} {
		t.Run(fmt.Sprintf("tlsVerify=%v", tlsVerify), func(t *testing.T) {
			host := silent(t)
			start := time.Now()
			_, _, err := pull(t, Options{ImageName: host + "/app", ImageDigest: "sha256:" + strings.Repeat("a", 64),
				TLSVerify: tlsVerify, IdleTimeout: idle})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), "sent nothing for 200ms (the idle timeout)") {
				t.Fatalf("error %v, want the idle timeout", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestIdleNotTotal: a slow download that keeps sending outlasts the idle
// timeout; one that stops sending fails.
func TestIdleNotTotal(t *testing.T) {
	const idle = 200 * time.Millisecond
	tests := []struct {
		name  string
		pause time.Duration // after each of 8 bytes
		err   string
	}{
		{"slow but steady", 50 * time.Millisecond, ""},
		{"stalls", 2 * time.Second, "the idle timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "8")
				for i := 0; i < 8; i++ {
					w.Write([]byte{'x'})
					w.(http.Flusher).Flush()
					select {
					case <-time.After(tt.pause):
					case <-r.Context().Done():
						return
					}
				}
			}))
			defer srv.Close()
			resp, err := clientLike(newTransport(strings.TrimPrefix(srv.URL, "http://"), false, idle)).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.err == "" {
				if err != nil || len(b) != 8 {
					t.Fatalf("read %d bytes: %v", len(b), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestDefaultIdleTimeout(t *testing.T) {
	tests := []struct {
		env  string
		want time.Duration
		err  bool
	}{
		{"", 5 * time.Minute, false},
		{"30", 30 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"0", 0, true},
		{"five", 0, true},
	}
	for _, tt := range tests {
		t.Setenv("DOCKERTOOLS_IDLE_TIMEOUT", tt.env)
		got, err := DefaultIdleTimeout()
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("DOCKERTOOLS_IDLE_TIMEOUT=%q: %v, %v", tt.env, got, err)
		}
	}
}
