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
	// TmpDir is where Copy keeps the layers of a compressed archive that
	// come before their turn (the system's temporary directory when empty).
	TmpDir string `json:"-"`
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
	cfgs, err := x.configs([]string{entry.Config})
	if err != nil {
		return fail(err)
	}
	b, err := x.base(entry, repoTag, storeDir, cfgs)
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
	var names []string
	for _, e := range x.manifest {
		names = append(names, e.Config)
	}
	cfgs, err := x.configs(names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var out []*Base
	for _, e := range x.manifest {
		tag := ""
		if len(e.RepoTags) > 0 {
			tag = e.RepoTags[0]
		}
		b, err := x.base(e, tag, "", cfgs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Bounds on what an archive may make this program hold in memory: a JSON
// member read (manifest.json, a config), the members' count and the bytes
// of their names (Docker extracts the archive into a directory, so names
// longer than PATH_MAX fail there too).
const (
	maxJSON        = 64 << 20
	maxMembers     = 1 << 17
	maxMemberNames = 16 << 20
)

// index is where the members of a docker-archive are, with its manifest.
type index struct {
	path     string
	comp     Compression
	members  map[string]member
	manifest []ManifestEntry
}

// readIndex reads the archive's tar headers once, keeping only where each
// member is and the manifest: the other members are read when an image
// names them, and only then.
func readIndex(p string) (*index, error) {
	rc, comp, err := openArchive(p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	x := &index{path: p, comp: comp, members: map[string]member{}}
	cr := &countingReader{r: rc}
	tr := tar.NewReader(cr)
	var manifest []byte
	names := 0
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
		if len(n) >= PathMax {
			return nil, fmt.Errorf("member %.80q… has a name of %d bytes, over Linux's PATH_MAX of %d", n, len(n), PathMax)
		}
		if names += len(n); len(x.members) >= maxMembers || names > maxMemberNames {
			return nil, fmt.Errorf("the archive has over %d members or %d MiB of member names: not a docker-archive", maxMembers, maxMemberNames>>20)
		}
		switch h.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			x.members[n] = member{link: h.Linkname}
		case tar.TypeReg:
			x.members[n] = member{offset: cr.n, size: h.Size}
			if n == "manifest.json" {
				if manifest, err = readJSON(tr, n, h.Size); err != nil {
					return nil, err
				}
			}
		}
	}
	if manifest == nil {
		return nil, errors.New("not a docker-archive: it has no manifest.json")
	}
	if err := json.Unmarshal(manifest, &x.manifest); err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	if len(x.manifest) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	return x, nil
}

// readJSON reads a JSON member of the given size, within maxJSON.
func readJSON(r io.Reader, name string, size int64) ([]byte, error) {
	if size > maxJSON {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d MiB for a JSON file of a docker-archive", name, size, maxJSON>>20)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

// configs reads the named members (configs of the images used): in place
// when the archive is uncompressed, else in a second pass that stops once
// it has them all.
func (x *index) configs(names []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	want := map[string]member{}
	for _, n := range names {
		c, m, err := x.resolve(n)
		if err != nil {
			return nil, err
		}
		if m.size > maxJSON {
			return nil, fmt.Errorf("config %s is %d bytes, over the limit of %d MiB for a JSON file of a docker-archive", n, m.size, maxJSON>>20)
		}
		want[c] = m
	}
	if x.comp == None {
		f, err := os.Open(x.path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		for c, m := range want {
			b, err := readJSON(io.NewSectionReader(f, m.offset, m.size), c, m.size)
			if err != nil {
				return nil, err
			}
			out[c] = b
		}
		return out, nil
	}
	rc, _, err := openArchive(x.path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	tr := tar.NewReader(cr)
	for len(out) < len(want) {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the archive again for its configs: %w", err)
		}
		c, err := cleanMember(h.Name)
		if err != nil || h.Typeflag != tar.TypeReg {
			continue
		}
		if m, ok := want[c]; ok && m.offset == cr.n {
			if out[c], err = readJSON(tr, c, m.size); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
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

// base reads one image of the archive (its config among cfgs) and checks
// its layers.
func (x *index) base(entry ManifestEntry, repoTag, storeDir string, cfgs map[string][]byte) (*Base, error) {
	cfgName, _, err := x.resolve(entry.Config)
	if err != nil {
		return nil, err
	}
	cfgJSON := cfgs[cfgName]
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
// uncompressed size, verifies its diff_id and applies its entries to a
// tree of the image's paths, refusing what `docker load` and `podman load`
// refuse (see Tree), so that a bad base fails the build rather than the
// later load; the tree gives the base's store paths. A layer listed again
// is read once and applied again from its headers.
func (b *Base) check(storeDir string) error {
	t := newCheckTree()
	kept := map[int][]*tar.Header{} // headers of layers listed again
	err := b.EachListing(func(i int, l *BaseLayer, r io.Reader) error {
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
		recurs := b.Recurs(i)
		err = ApplyLayer(t, tar.NewReader(cr), func(h *tar.Header, _ *Node[struct{}], _ Kind) error {
			if recurs {
				kept[i] = append(kept[i], h)
			}
			return nil
		})
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
		return nil
	}, func(i, first int) error {
		l, f := &b.Layers[i], &b.Layers[first]
		if l.DiffID != f.DiffID {
			return fmt.Errorf("layer %s has digest %s, but the config says %s for its listing %d", l.Member, f.DiffID, l.DiffID, i+1)
		}
		l.Compression, l.TarSize = f.Compression, f.TarSize
		t.Begin()
		for _, h := range kept[first] {
			if _, _, err := t.Apply(h); err != nil {
				return fmt.Errorf("layer %s (listed again as layer %d): %w", l.Member, i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if storeDir != "" {
		b.StorePaths = storePaths(t, storeDir)
	}
	return nil
}
