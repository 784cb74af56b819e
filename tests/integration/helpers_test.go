package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var helperFixtures = []string{"helpers-image", "helpers-layered", "env-helpers-image", "env-helpers-layered"}

// usrBinEnv, binSh, caCertificates and fakeNss merged at / by buildImage.
func TestEnvHelpers(t *testing.T) {
	ca, err := os.ReadFile(filepath.Join(h.fixtures, "testca", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(ca), "\n", 2)[0]
	runBoth(t, image(t, "helpers-image"), strings.Join([]string{
		"==> /etc/ssl/certs/ca-certificates.crt <==", first, "",
		"==> /etc/pki/tls/certs/ca-bundle.crt <==", first, "",
		"==> /etc/ssl/certs/ca-bundle.crt <==", first,
		"root:x:0:0:root user:/var/empty:/bin/sh",
		"nobody:x:65534:65534:nobody:/var/empty:/bin/sh",
		"root:x:0:", "nobody:x:65534:", "hosts: files dns", "var-empty",
	}, "\n"))
}

// fakeNss.override with extra lines; the engines resolve `nobody` from it.
func TestFakeNssOverride(t *testing.T) {
	runBoth(t, image(t, "helpers-layered"), strings.Join([]string{
		"uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)",
		"/etc/passwd:alice:x:1000:1000::/home/alice:/bin/sh",
		"/etc/group:alice:x:1000:",
	}, "\n"))
}

// The documentation's binSh examples: hello runs, and /bin/sh gives a
// shell that reads commands from stdin (docker run -i).
func TestBinShExamples(t *testing.T) {
	for _, attr := range []string{"env-helpers-image", "env-helpers-layered"} {
		t.Run(attr, func(t *testing.T) {
			img := image(t, attr)
			runBoth(t, img, greeting, "/bin/hello")
			for _, e := range engines() {
				r := e.run([]byte("echo a shell; exit\n"), "-i", "--network=none", e.load(t, img), "/bin/sh")
				if r.err != nil || strings.TrimSpace(r.stdout) != "a shell" {
					t.Errorf("%s /bin/sh: %v %q %s", e.name, r.err, r.stdout, r.stderr)
				}
			}
		})
	}
}

// A TLS client in an image with caCertificates trusts a server whose
// certificate the bundle's CA signed; without the helper it does not.
func TestCACertificates(t *testing.T) {
	need(t)
	dir := t.TempDir()
	client := filepath.Join(dir, "tlsclient")
	build := exec.Command("go", "build", "-o", client, "./tests/tlsclient")
	build.Dir, build.Env = h.repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building tlsclient: %v\n%s", err, out)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "trusted")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leafFromTestCA(t)}}
	srv.StartTLS()
	defer srv.Close()

	expr := func(helpers string) string {
		return fmt.Sprintf(`dockerTools.buildLayeredImage { name = "tls-client"; tag = "latest";
			contents = [ (builtins.path { path = %s; name = "tlsclient"; }) ] ++ %s;
			config.Entrypoint = [ "/tlsclient" ]; }`, client, helpers)
	}
	with := strings.TrimSpace(must(t, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(expr("[ dockerTools.caCertificates ]"))))
	without := strings.TrimSpace(must(t, "nix-build", "--no-out-link", "--arg", "builder", h.builder, "-E", fixturesExpr(expr("[ ]"))))
	url := srv.URL // https://127.0.0.1:port, reached with the host's network
	for _, e := range engines() {
		if r := e.run(nil, "--network=host", e.load(t, with), url); r.err != nil || r.stdout != "trusted" {
			t.Errorf("%s with caCertificates: %v %q %s", e.name, r.err, r.stdout, r.stderr)
		}
		if r := e.run(nil, "--network=host", e.load(t, without), url); r.err == nil || !strings.Contains(r.stderr, "certificate") {
			t.Errorf("%s without caCertificates: %v %q %s", e.name, r.err, r.stdout, r.stderr)
		}
	}
}

// leafFromTestCA signs a certificate for 127.0.0.1 with the fixtures' test CA.
func leafFromTestCA(t *testing.T) tls.Certificate {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(h.fixtures, "testca", name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		return block.Bytes
	}
	caCert, err := x509.ParseCertificate(read("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParseECPrivateKey(read("ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
