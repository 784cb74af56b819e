package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compression of a stream, as found by its first bytes.
type Compression string

const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Detect tells the compression of a stream from its first bytes.
func Detect(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return None
}

// Decompress wraps r, whose compression is c.
func Decompress(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewReader(r)
	case Zstd:
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// BaseLayer is where one layer of a base image lives inside its archive.
type BaseLayer struct {
	Member      string      `json:"member"`      // name in the archive
	Offset      int64       `json:"offset"`      // of its bytes in the uncompressed archive
	Size        int64       `json:"size"`        // of its bytes as stored
	Compression Compression `json:"compression"` // of its bytes as stored
	DiffID      string      `json:"diffID"`      // sha256 of the uncompressed layer
	TarSize     int64       `json:"tarSize"`     // size of the uncompressed layer
}

// Base is one image of a docker-archive, ready to be copied from.
type Base struct {
	Path        string          `json:"path"`
	Compression Compression     `json:"compression"` // of the whole archive
	RepoTag     string          `json:"repoTag"`
	RepoTags    []string        `json:"-"` // all the image's tags in its archive
	Layers      []BaseLayer     `json:"layers"`
	Config      json.RawMessage `json:"-"`
	Env         []string        `json:"env"`
	// StorePaths are the store paths the image's layers hold, whiteouts
	// applied, sorted (when OpenBase was given the store directory).
	StorePaths []string `json:"-"`
}

type member struct {
	offset, size int64
	link         string // for symlinks (docker save links repeated layers)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openArchive opens a possibly compressed docker-archive as a plain tar stream.
func openArchive(p string) (io.ReadCloser, Compression, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, "", err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(4)
	c := Detect(head)
	d, err := Decompress(br, c)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("%s: reading %s compression: %w", p, c, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{d, closers{d, f}}, c, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// OpenBase reads the image tagged name:tag from the docker-archive at p (the
// first image when name or tag is empty), checks every layer against the
// config's diff_ids and records where the layers are. Base.StorePaths lists
// the paths in storeDir, or nothing when storeDir is "" (callers that do not
// need them).
func OpenBase(p, name, tag, storeDir string) (*Base, error) {
	fail := func(err error) (*Base, error) {
		return nil, fmt.Errorf("fromImage %s: %w", p, err)
	}
	x, err := readIndex(p)
	if err != nil {
		return fail(err)
	}
	entry, repoTag, err := pick(x.manifest, name, tag)
	if err != nil {
		return fail(err)
	}
	b, err := x.base(entry, repoTag, storeDir)
	if err != nil {
		return fail(err)
	}
	return b, nil
}

// OpenAll reads every image of the docker-archive at p, checked as
// OpenBase checks one, without their store paths.
func OpenAll(p string) ([]*Base, error) {
	x, err := readIndex(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var out []*Base
	for _, e := range x.manifest {
		tag := ""
		if len(e.RepoTags) > 0 {
			tag = e.RepoTags[0]
		}
		b, err := x.base(e, tag, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// index is where the members of a docker-archive are, with its JSON files.
type index struct {
	path     string
	comp     Compression
	members  map[string]member
	small    map[string][]byte // JSON files, read on the way
	manifest []ManifestEntry
}

func readIndex(p string) (*index, error) {
	rc, comp, err := openArchive(p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	x := &index{path: p, comp: comp, members: map[string]member{}, small: map[string][]byte{}}
	cr := &countingReader{r: rc}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a docker-archive (a tar with manifest.json): %w", err)
		}
		if path.Clean(strings.TrimPrefix(h.Name, "./")) == "." {
			continue // the archive's own root, as `tar -C dir .` writes it
		}
		n, err := cleanMember(h.Name)
		if err != nil {
			return nil, err
		}
		switch h.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			x.members[n] = member{link: h.Linkname}
		case tar.TypeReg:
			x.members[n] = member{offset: cr.n, size: h.Size}
			if strings.HasSuffix(n, ".json") && h.Size < 64<<20 {
				b, err := io.ReadAll(tr)
				if err != nil {
					return nil, fmt.Errorf("reading %s: %w", n, err)
				}
				x.small[n] = b
			}
		}
	}
	mj, ok := x.small["manifest.json"]
	if !ok {
		return nil, errors.New("not a docker-archive: it has no manifest.json")
	}
	if err := json.Unmarshal(mj, &x.manifest); err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	if len(x.manifest) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	return x, nil
}

// resolve finds a member by name, following links between members.
func (x *index) resolve(n string) (string, member, error) {
	c, err := cleanMember(n)
	if err != nil {
		return "", member{}, err
	}
	for i := 0; i < 8; i++ {
		m, ok := x.members[c]
		if !ok {
			return "", member{}, fmt.Errorf("manifest.json names %s, which is not in the archive", n)
		}
		if m.link == "" {
			return c, m, nil
		}
		target := m.link
		if !strings.HasPrefix(target, "/") {
			target = path.Join(path.Dir(c), target)
		}
		if c, err = cleanMember(target); err != nil {
			return "", member{}, err
		}
	}
	return "", member{}, fmt.Errorf("%s: too many links", n)
}

// base reads one image of the archive and checks its layers.
func (x *index) base(entry ManifestEntry, repoTag, storeDir string) (*Base, error) {
	cfgName, _, err := x.resolve(entry.Config)
	if err != nil {
		return nil, err
	}
	cfgJSON, ok := x.small[cfgName]
	if !ok {
		return nil, fmt.Errorf("config %s is not a readable JSON file", entry.Config)
	}
	var cfg Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("reading config %s: %w", entry.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("config %s lists %d diff_ids for %d layers", entry.Config, len(cfg.RootFS.DiffIDs), len(entry.Layers))
	}
	env, err := Env(cfg.Config)
	if err != nil {
		return nil, err
	}
	b := &Base{Path: x.path, Compression: x.comp, RepoTag: repoTag, RepoTags: entry.RepoTags, Config: cfgJSON, Env: env}
	for i, l := range entry.Layers {
		n, m, err := x.resolve(l)
		if err != nil {
			return nil, err
		}
		b.Layers = append(b.Layers, BaseLayer{Member: n, Offset: m.offset, Size: m.size, DiffID: cfg.RootFS.DiffIDs[i]})
	}
	if err := b.check(storeDir); err != nil {
		return nil, err
	}
	return b, nil
}

func pick(manifest []ManifestEntry, name, tag string) (ManifestEntry, string, error) {
	first := func(e ManifestEntry) string {
		if len(e.RepoTags) > 0 {
			return e.RepoTags[0]
		}
		return ""
	}
	if name == "" || tag == "" {
		return manifest[0], first(manifest[0]), nil
	}
	want := name + ":" + tag
	var have []string
	for _, e := range manifest {
		for _, t := range e.RepoTags {
			if t == want || strings.TrimPrefix(t, "docker.io/library/") == want || strings.TrimPrefix(t, "docker.io/") == want {
				return e, t, nil
			}
			have = append(have, t)
		}
	}
	return ManifestEntry{}, "", fmt.Errorf("no image %s in the archive (fromImageName/fromImageTag); it holds %s", want, strings.Join(have, ", "))
}

// check reads every layer once: it finds each layer's compression and
// uncompressed size, verifies its diff_id and its entries' names, so that a
// corrupt base fails the build rather than the later `docker load`, and
// lists the base's store paths.
func (b *Base) check(storeDir string) error {
	var scans []*layerScan
	err := b.Copy(func(i int, l *BaseLayer, r io.Reader) error {
		head := make([]byte, 4)
		n, _ := io.ReadFull(r, head)
		l.Compression = Detect(head[:n])
		d, err := Decompress(io.MultiReader(bytes.NewReader(head[:n]), r), l.Compression)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Member, err)
		}
		defer d.Close()
		h := sha256.New()
		cr := &countingReader{r: io.TeeReader(d, h)}
		s, err := scanLayer(cr, strings.TrimPrefix(storeDir, "/"))
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Member, err)
		}
		// Whatever follows the end-of-archive blocks is part of the digest too.
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return fmt.Errorf("layer %s: %w", l.Member, err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.DiffID {
			return fmt.Errorf("layer %s has digest %s, but the config says %s", l.Member, got, l.DiffID)
		}
		l.TarSize = cr.n
		scans = append(scans, s)
		return nil
	})
	if storeDir != "" {
		b.StorePaths = storePaths(scans, storeDir)
	}
	return err
}

// Copy calls fn with each layer's stored bytes, in image order. An
// uncompressed archive is read at the recorded offsets; a compressed one is
// decompressed once when the layers come in archive order, again otherwise.
func (b *Base) Copy(fn func(i int, l *BaseLayer, r io.Reader) error) error {
	if b.Compression == None {
		f, err := os.Open(b.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		for i := range b.Layers {
			l := &b.Layers[i]
			if err := fn(i, l, io.NewSectionReader(f, l.Offset, l.Size)); err != nil {
				return err
			}
		}
		return nil
	}
	var rc io.ReadCloser
	var pos int64
	defer func() {
		if rc != nil {
			rc.Close()
		}
	}()
	for i := range b.Layers {
		l := &b.Layers[i]
		if rc == nil || l.Offset < pos {
			if rc != nil {
				rc.Close()
			}
			var err error
			if rc, _, err = openArchive(b.Path); err != nil {
				return err
			}
			pos = 0
		}
		if _, err := io.CopyN(io.Discard, rc, l.Offset-pos); err != nil {
			return fmt.Errorf("%s: seeking to layer %s: %w", b.Path, l.Member, err)
		}
		lr := &io.LimitedReader{R: rc, N: l.Size}
		if err := fn(i, l, lr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return err
		}
		pos = l.Offset + l.Size
	}
	return nil
}

// Uncompressed copies the layer's uncompressed tar from r (its stored bytes) to w.
func (l *BaseLayer) Uncompressed(w io.Writer, r io.Reader) error {
	d, err := Decompress(r, l.Compression)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := io.Copy(w, d)
	if err != nil {
		return err
	}
	if n != l.TarSize {
		return fmt.Errorf("base layer %s changed: %d bytes, expected %d", l.Member, n, l.TarSize)
	}
	return nil
}
