package pull

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/nix-dockertools/dockertools/archive"
)

func TestMain(m *testing.M) {
	retryDelay = time.Millisecond
	os.Exit(m.Run())
}

// isolate keeps the machine's own credentials out of the tests.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
}

// server is an in-memory registry behind a handler that can misbehave.
type server struct {
	*httptest.Server
	host string

	mu       sync.Mutex
	corrupt  map[string]bool          // blob digests served with a flipped byte
	truncate map[string]bool          // blob digests served cut in half
	delay    map[string]time.Duration // blob digests served late
	user     string                   // basic auth required when set
	pass     string
	redirect func(r *http.Request) string // where blob GETs are redirected, when set
	reg      http.Handler                 // the registry itself, without misbehaviour
}

func newServer(t *testing.T, tlsServer bool) *server {
	t.Helper()
	s := &server{corrupt: map[string]bool{}, truncate: map[string]bool{}, delay: map[string]time.Duration{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s.reg = reg
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(reg, w, r) })
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsServer {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	s.host = strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	return s
}

func (s *server) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	user, pass := s.user, s.pass
	s.mu.Unlock()
	if user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
	}
	if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
		next.ServeHTTP(w, r)
		return
	}
	d := path.Base(r.URL.Path)
	s.mu.Lock()
	corrupt, truncate, delay, redirect := s.corrupt[d], s.truncate[d], s.delay[d], s.redirect
	s.mu.Unlock()
	if redirect != nil {
		http.Redirect(w, r, redirect(r), http.StatusTemporaryRedirect)
		return
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done(): // the client gave up
		return
	}
	if !corrupt && !truncate {
		next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := append([]byte(nil), rec.Body.Bytes()...)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(rec.Code)
	if corrupt {
		body[len(body)/2] ^= 0xff
		w.Write(body)
		return
	}
	// Announce the whole blob, send half: the server then drops the connection.
	w.Write(body[:len(body)/2])
}

// img is an image built by hand, so that every byte is known.
type img struct {
	layers   [][]byte // uncompressed tars
	blobs    [][]byte // as pushed
	diffIDs  []string
	config   []byte
	manifest []byte
	digest   string
}

func tarOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t *testing.T, data []byte, how string) ([]byte, types.MediaType) {
	t.Helper()
	var b bytes.Buffer
	switch how {
	case "gzip":
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		return b.Bytes(), types.DockerLayer
	case "zstd", "zstd-as-gzip":
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		zw.Close()
		if how == "zstd-as-gzip" {
			// Mislabelled: skopeo (and Pull) go by the bytes.
			return b.Bytes(), types.DockerLayer
		}
		return b.Bytes(), types.OCILayerZStd
	}
	return data, types.DockerUncompressedLayer
}

// ociLayerTypes are the OCI names of the Docker layer media types.
var ociLayerTypes = map[any]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
}

type spec struct {
	os, arch, variant string
	comp              []string // one per layer
	oci               bool     // an OCI manifest (zstd layers make one too)
	seed              string   // makes the content differ
	badDiffID         int      // 1-based layer whose diff_id the config gets wrong
	big               int      // bytes of random data added to each layer
	repeat            int      // 1-based layer listed once more, on top
	// rawConfig, if set, makes the config's bytes from the diff_ids.
	rawConfig func(diffIDs []string) []byte
}

func build(t *testing.T, s spec) *img {
	t.Helper()
	im := &img{}
	mt := types.DockerManifestSchema2
	cmt := types.DockerConfigJSON
	if s.oci {
		mt, cmt = types.OCIManifestSchema1, types.OCIConfigJSON
	}
	var layers []map[string]any
	for i, c := range s.comp {
		files := []string{fmt.Sprintf("layer%d/file", i), strings.Repeat(s.seed+fmt.Sprint(i), 1000+i*500), "shared", "same in every layer"}
		if s.big > 0 {
			noise := make([]byte, s.big)
			rand.New(rand.NewSource(int64(i))).Read(noise)
			files = append(files, "noise", string(noise))
		}
		l := tarOf(t, files...)
		blob, lmt := compress(t, l, c)
		if c == "zstd" {
			mt, cmt = types.OCIManifestSchema1, types.OCIConfigJSON
		}
		im.layers = append(im.layers, l)
		im.blobs = append(im.blobs, blob)
		id := archive.Digest(l)
		if i+1 == s.badDiffID {
			id = archive.Digest([]byte("something else"))
		}
		im.diffIDs = append(im.diffIDs, id)
		layers = append(layers, map[string]any{"mediaType": lmt, "size": len(blob), "digest": archive.Digest(blob)})
	}
	if s.repeat > 0 {
		r := s.repeat - 1
		im.layers = append(im.layers, im.layers[r])
		im.diffIDs = append(im.diffIDs, im.diffIDs[r])
		layers = append(layers, layers[r])
	}
	if mt == types.OCIManifestSchema1 {
		for _, l := range layers {
			if o, ok := ociLayerTypes[l["mediaType"]]; ok {
				l["mediaType"] = o
			}
		}
	}
	cfg := map[string]any{
		"architecture": s.arch, "os": s.os,
		"config": map[string]any{"Env": []string{"SEED=" + s.seed}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": im.diffIDs},
	}
	if s.variant != "" {
		cfg["variant"] = s.variant
	}
	var err error
	if im.config, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if s.rawConfig != nil {
		im.config = s.rawConfig(im.diffIDs)
	}
	m := map[string]any{
		"schemaVersion": 2, "mediaType": mt,
		"config": map[string]any{"mediaType": cmt, "size": len(im.config), "digest": archive.Digest(im.config)},
		"layers": layers,
	}
	if im.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	im.digest = archive.Digest(im.manifest)
	return im
}

type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func mediaType(t *testing.T, m []byte) types.MediaType {
	var p struct{ MediaType types.MediaType }
	if err := json.Unmarshal(m, &p); err != nil {
		t.Fatal(err)
	}
	return p.MediaType
}

// putManifest stores a manifest under its digest and, if given, a tag.
func putManifest(t *testing.T, host, repo string, m []byte, tag string) {
	t.Helper()
	refs := []string{host + "/" + repo + "@" + archive.Digest(m)}
	if tag != "" {
		refs = append(refs, host+"/"+repo+":"+tag)
	}
	for _, r := range refs {
		ref, err := name.ParseReference(r, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Put(ref, rawManifest{m, mediaType(t, m)}); err != nil {
			t.Fatal(err)
		}
	}
}

func push(t *testing.T, host, repo string, im *img, tag string) {
	t.Helper()
	r, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range append(append([][]byte(nil), im.blobs...), im.config) {
		if err := remote.WriteLayer(r, static.NewLayer(b, types.OCILayer)); err != nil {
			t.Fatal(err)
		}
	}
	putManifest(t, host, repo, im.manifest, tag)
}

// index makes and stores an index of ims, plus an attestation manifest.
func index(t *testing.T, host, repo string, ims ...*img) []byte {
	t.Helper()
	// What buildkit adds for provenance: never picked, never listed.
	att := build(t, spec{os: "unknown", arch: "unknown", seed: "attestation"})
	push(t, host, repo, att, "")
	var ms []map[string]any
	for _, im := range append(ims, att) {
		var c imageConfig
		if err := json.Unmarshal(im.config, &c); err != nil {
			t.Fatal(err)
		}
		p := map[string]any{"os": c.OS, "architecture": c.Architecture}
		if c.Variant != "" {
			p["variant"] = c.Variant
		}
		ms = append(ms, map[string]any{"mediaType": mediaType(t, im.manifest), "size": len(im.manifest), "digest": im.digest, "platform": p})
	}
	b, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": types.OCIImageIndex, "manifests": ms})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expected is the archive Pull must write for im, made from its layers as
// built, without a registry. (That the writer writes what skopeo writes,
// TestSkopeoArchive checks.)
func expected(t *testing.T, im *img, repoTag string) []byte {
	t.Helper()
	var b bytes.Buffer
	aw := newArchiveWriter(&b)
	for i, l := range im.layers {
		if err := aw.AddLayer(im.diffIDs[i], int64(len(l)), func(w io.Writer) error { _, err := w.Write(l); return err }); err != nil {
			t.Fatal(err)
		}
	}
	i := strings.LastIndexByte(repoTag, ':')
	repo, tag, err := normalizeReference(repoTag[:i], repoTag[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	if err := aw.Finish(im.config, archive.Digest(im.config), repo, tag); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pull(t *testing.T, o Options) ([]byte, string, error) {
	t.Helper()
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	var out, logs bytes.Buffer
	o.Log = &logs
	err := Pull(context.Background(), o, &out)
	// Nothing is left behind, whether the pull worked or not.
	if left, _ := os.ReadDir(o.TempDir); len(left) > 0 {
		t.Errorf("%d files left in TempDir", len(left))
	}
	return out.Bytes(), logs.String(), err
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		n := f.n
		f.n = 0
		return n, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}
