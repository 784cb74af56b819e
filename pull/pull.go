package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nix-dockertools/dockertools/archive"
	"github.com/nix-dockertools/dockertools/outfile"
)

// Options says what to pull and how to name it.
type Options struct {
	// ImageName as the user writes it: "nixos/nix", "docker.io/library/alpine",
	// "127.0.0.1:5000/team/app". A one-word name gets library/ and no
	// registry means Docker Hub.
	ImageName string
	// ImageDigest is "sha256:<hex>": the digest of an image manifest, or of
	// an index (manifest list) to pick the OS/Arch image from.
	ImageDigest string
	// OS, Arch and Variant select the image from an index and are checked
	// against a single image's config. Arch may carry the variant instead:
	// "arm/v7" is Arch "arm" with Variant "v7". Empty OS and Arch mean
	// linux and the builder's GOARCH; an empty Variant, the architecture's
	// usual one.
	OS, Arch, Variant string
	// TLSVerify false allows plain HTTP and skips TLS certificate checks
	// (nixpkgs' tlsVerify = false). With true, nothing is fetched from the
	// registry over plain HTTP, not even from localhost.
	TLSVerify bool
	// FinalName and FinalTag make the archive's RepoTag, normalized as
	// skopeo does ("alpine" is docker.io/library/alpine). Empty: ImageName
	// and "latest".
	FinalName, FinalTag string
	// TempDir holds the layers while they download (up to Parallel of them
	// at a time, uncompressed). Empty: os.TempDir().
	TempDir string
	// Parallel is how many layers download at once. 0: 3.
	Parallel int
	// Log receives progress lines. Nil: none.
	Log io.Writer
	// IdleTimeout fails a download that receives nothing for this long
	// (it is not a limit on the whole download). 0: DefaultIdleTimeout.
	IdleTimeout time.Duration
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// configLimit bounds the image config read into memory.
const configLimit = 64 << 20

// Pull downloads the image and writes to w the docker-archive skopeo
// writes for it (see archiveWriter). The bytes written depend only on the
// image's content (its config and uncompressed layers) and
// FinalName:FinalTag.
func Pull(ctx context.Context, o Options, w io.Writer) error {
	if !digestRE.MatchString(o.ImageDigest) {
		return fmt.Errorf("pullImage: imageDigest %q must be \"sha256:\" followed by 64 lowercase hexadecimal digits (nix-prefetch-docker prints it)", o.ImageDigest)
	}
	want, err := parsePlatform(o.OS, o.Arch, o.Variant)
	if err != nil {
		return fmt.Errorf("pullImage: %w", err)
	}
	repo, err := repository(o.ImageName, o.TLSVerify)
	if err != nil {
		return fmt.Errorf("pullImage: %w", err)
	}
	if o.FinalName == "" {
		o.FinalName = o.ImageName
	}
	if o.FinalTag == "" {
		o.FinalTag = "latest"
	}
	if o.Parallel <= 0 {
		o.Parallel = 3
	}
	final, err := finalReference(o.FinalName, o.FinalTag)
	if err != nil {
		return fmt.Errorf("pullImage: %w", err)
	}
	if o.IdleTimeout <= 0 {
		if o.IdleTimeout, err = DefaultIdleTimeout(); err != nil {
			return fmt.Errorf("pullImage: %w", err)
		}
	}
	ref := repo.Digest(o.ImageDigest)
	p, err := newPuller(ctx, repo, o.TLSVerify, o.IdleTimeout, o.Parallel, o.Log)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := p.pull(ctx, ref, want, final, o.TempDir, w); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// repoTag is the archive's name for the image.
type repoTag struct{ repo, tag string }

// finalReference is the archive's repository and tag, as skopeo reads
// finalImageName:finalImageTag.
func finalReference(name, tag string) (repoTag, error) {
	repo, t, err := normalizeReference(name, tag)
	if err != nil {
		return repoTag{}, fmt.Errorf("finalImageName:finalImageTag %w", err)
	}
	return repoTag{repo, t}, nil
}

// Resolve returns the digest a tag currently points to: the digest of the
// manifest the registry answers for name:tag, which for a multi-arch tag is
// the index's digest. An empty tag means "latest". The idle timeout is
// DefaultIdleTimeout.
func Resolve(ctx context.Context, imageName, tag string, tlsVerify bool) (string, error) {
	repo, err := repository(imageName, tlsVerify)
	if err != nil {
		return "", err
	}
	if tag == "" {
		tag = "latest"
	}
	ref, err := name.NewTag(repo.Name()+":"+tag, nameOptions(tlsVerify)...)
	if err != nil {
		return "", fmt.Errorf("tag %q of %s: %w", tag, imageName, err)
	}
	idle, err := DefaultIdleTimeout()
	if err != nil {
		return "", err
	}
	p, err := newPuller(ctx, repo, tlsVerify, idle, 1, nil)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	raw, _, _, err := p.manifest(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	return archive.Digest(raw), nil
}

func nameOptions(tlsVerify bool) []name.Option {
	if tlsVerify {
		return nil
	}
	return []name.Option{name.Insecure}
}

func repository(imageName string, tlsVerify bool) (name.Repository, error) {
	if imageName == "" {
		return name.Repository{}, errors.New("imageName is empty")
	}
	repo, err := name.NewRepository(imageName, nameOptions(tlsVerify)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("imageName %q (a repository name, without tag or digest): %w", imageName, err)
	}
	return repo, nil
}

type puller struct {
	r        *remote.Puller
	repo     name.Repository
	host     string
	tls      bool
	parallel int
	log      *logger
}

type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(format string, args ...any) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

type kind int

const (
	kindImage kind = iota
	kindIndex
)

// manifest fetches a manifest and checks that its bytes are what a digest
// reference asks for. (go-containerregistry checks this too, except for
// signed schema 1 manifests, where it believes the registry's header.)
func (p *puller) manifest(ctx context.Context, ref name.Reference) ([]byte, kind, types.MediaType, error) {
	d, err := p.r.Get(ctx, ref)
	if err != nil {
		if status(err) == 404 {
			return nil, 0, "", fmt.Errorf("the registry %s has no manifest %s in %s: %w", p.host, ref.Identifier(), p.repo.RepositoryStr(), err)
		}
		return nil, 0, "", p.explain(err)
	}
	if dg, ok := ref.(name.Digest); ok {
		if got := archive.Digest(d.Manifest); got != dg.DigestStr() {
			return nil, 0, "", fmt.Errorf("the registry sent a manifest with digest %s for %s", got, dg.DigestStr())
		}
	}
	k, err := manifestKind(d.Manifest, d.MediaType)
	if err != nil {
		return nil, 0, "", fmt.Errorf("manifest %s: %w", ref.Identifier(), err)
	}
	return d.Manifest, k, d.MediaType, nil
}

// manifestKind tells an image manifest from an index, by the manifest's own
// mediaType, else the registry's Content-Type, else its fields.
func manifestKind(raw []byte, contentType types.MediaType) (kind, error) {
	var probe struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
		Layers        json.RawMessage `json:"layers"`
		FSLayers      json.RawMessage `json:"fsLayers"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return 0, fmt.Errorf("not a JSON manifest: %w", err)
	}
	schema1 := errors.New("a Docker schema 1 manifest (from before 2017, without an image config) is not supported: push the image again with a current tool")
	if probe.SchemaVersion == 1 || probe.FSLayers != nil {
		return 0, schema1
	}
	mt := types.MediaType(probe.MediaType)
	if mt == "" {
		mt = contentType
	}
	switch mt {
	case types.OCIImageIndex, types.DockerManifestList:
		return kindIndex, nil
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		return kindImage, nil
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return 0, schema1
	}
	switch {
	case probe.Manifests != nil:
		return kindIndex, nil
	case probe.Config != nil && probe.Layers != nil:
		return kindImage, nil
	}
	return 0, fmt.Errorf("media type %q is neither an image manifest nor an index", mt)
}

// imageConfig is what Pull reads of the config; the config itself goes
// into the archive unchanged.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	RootFS       struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

func (p *puller) pull(ctx context.Context, ref name.Digest, want platform, final repoTag, tempDir string, w io.Writer) error {
	raw, fromIndex, err := p.imageManifest(ctx, ref, want)
	if err != nil {
		return err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	switch m.Config.MediaType {
	case "", types.DockerConfigJSON, types.OCIConfigJSON:
	default:
		return fmt.Errorf("not a container image: its config has media type %s", m.Config.MediaType)
	}
	config, err := p.config(ctx, m.Config)
	if err != nil {
		return err
	}
	diffIDs, err := checkConfig(config, m, want, fromIndex, p.log)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(tempDir, "dockertools-pull-")
	if err != nil {
		return fmt.Errorf("making a directory for the downloads: %w", err)
	}
	defer os.RemoveAll(dir)
	defer outfile.Track(dir)() // removed on SIGTERM too (prefetch runs outside Nix)
	aw := newArchiveWriter(w)
	if err := p.layers(ctx, aw, m.Layers, diffIDs, dir); err != nil {
		return err
	}
	p.log.printf("Writing manifest to image destination")
	if err := aw.Finish(config, m.Config.Digest.String(), final.repo, final.tag); err != nil {
		return fmt.Errorf("writing the archive: %w", err)
	}
	return nil
}

// imageManifest fetches the manifest ref names and, when it is an index,
// the manifest of want's image in it.
func (p *puller) imageManifest(ctx context.Context, ref name.Digest, want platform) (raw []byte, fromIndex bool, err error) {
	raw, k, mt, err := p.manifest(ctx, ref)
	if err != nil || k == kindImage {
		return raw, false, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, false, fmt.Errorf("reading index %s: %w", ref.DigestStr(), err)
	}
	if idx.MediaType == "" {
		idx.MediaType = mt
	}
	d, err := pickPlatform(idx, want, ref.DigestStr())
	if err != nil {
		return nil, false, err
	}
	p.log.printf("Picked %s image %s from index %s", want, d.Digest, ref.DigestStr())
	if raw, k, _, err = p.manifest(ctx, p.repo.Digest(d.Digest.String())); err != nil {
		return nil, false, err
	}
	if k != kindImage {
		return nil, false, fmt.Errorf("the %s entry %s of index %s is itself an index; nested indexes are not supported", want, d.Digest, ref.DigestStr())
	}
	return raw, true, nil
}

// checkConfig reads what the pull needs of the config: the diff_ids, one per
// layer. A single image for another platform than want is pulled with a
// warning.
func checkConfig(config []byte, m *v1.Manifest, want platform, fromIndex bool, log *logger) ([]string, error) {
	var cfg imageConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("reading image config %s: %w", m.Config.Digest, err)
	}
	if !fromIndex {
		if warning := platformMismatch(cfg, want); warning != "" {
			log.printf("warning: %s", warning)
		}
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("the manifest has %d layers but the image config %s lists %d rootfs.diff_ids", len(m.Layers), m.Config.Digest, len(diffIDs))
	}
	for i, id := range diffIDs {
		if !digestRE.MatchString(id) {
			return nil, fmt.Errorf("image config %s: rootfs.diff_ids[%d] %q is not a sha256 digest", m.Config.Digest, i, id)
		}
	}
	return diffIDs, nil
}

// config downloads the image config and checks it against the manifest.
func (p *puller) config(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > configLimit {
		return nil, fmt.Errorf("image config %s: the manifest gives it %d bytes; at most %d are accepted", d.Digest, d.Size, configLimit)
	}
	p.log.printf("Copying config %s (%s)", d.Digest, humanSize(d.Size))
	rc, err := p.blob(ctx, d.Digest)
	if err != nil {
		return nil, fmt.Errorf("image config %s: %w", d.Digest, err)
	}
	defer rc.Close()
	hc := newHashCounter(rc)
	b, err := io.ReadAll(io.LimitReader(hc, d.Size+1))
	if verr := hc.check(d); verr != nil {
		return nil, fmt.Errorf("image config: %w", verr)
	}
	if hc.n < d.Size {
		return nil, fmt.Errorf("image config: %w", hc.truncated(d, p.explain(err)))
	}
	if err != nil {
		return nil, fmt.Errorf("image config %s: %w", d.Digest, p.explain(err))
	}
	return b, nil
}

func (p *puller) blob(ctx context.Context, h v1.Hash) (io.ReadCloser, error) {
	l, err := p.r.Layer(ctx, p.repo.Digest(h.String()))
	if err != nil {
		return nil, p.explain(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		if status(err) == 404 {
			return nil, fmt.Errorf("the registry %s does not have this blob in %s: %w", p.host, p.repo.RepositoryStr(), err)
		}
		return nil, p.explain(err)
	}
	return rc, nil
}

func humanSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	f := float64(n) / 1000
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
