package pull

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// platform is an os/architecture/variant triple, as an index lists them.
type platform struct {
	os, arch, variant string
}

func (p platform) String() string {
	s := p.os + "/" + p.arch
	if p.variant != "" {
		s += "/" + p.variant
	}
	return s
}

// archAliases maps the names other tools use (uname, Debian, Nix system
// doubles) to the GOARCH names registries use.
var archAliases = map[string]platform{
	"x86_64":  {arch: "amd64"},
	"x86-64":  {arch: "amd64"},
	"aarch64": {arch: "arm64"},
	"i386":    {arch: "386"},
	"i686":    {arch: "386"},
	"armhf":   {arch: "arm", variant: "v7"},
	"armv7l":  {arch: "arm", variant: "v7"},
	"armv7":   {arch: "arm", variant: "v7"},
	"armel":   {arch: "arm", variant: "v6"},
	"armv6l":  {arch: "arm", variant: "v6"},
}

// parsePlatform reads the os, arch and variant attributes. arch may carry
// the variant instead ("arm/v7"), or imply one ("armhf"); a variant given
// both ways must agree. Empty os and arch default to linux and the
// builder's own GOARCH, as nixpkgs' defaults do.
func parsePlatform(osName, arch, variant string) (platform, error) {
	p := platform{os: strings.ToLower(strings.TrimSpace(osName))}
	if p.os == "" {
		p.os = "linux"
	}
	arch = strings.ToLower(strings.TrimSpace(arch))
	if arch == "" {
		arch = runtime.GOARCH
	}
	parts := strings.Split(arch, "/")
	if len(parts) > 2 || parts[0] == "" || (len(parts) == 2 && parts[1] == "") {
		return platform{}, fmt.Errorf("arch %q: expected an architecture such as \"amd64\", \"arm64\" or \"arm/v7\"", arch)
	}
	p.arch = parts[0]
	if len(parts) == 2 {
		p.variant = parts[1]
	}
	if a, ok := archAliases[p.arch]; ok {
		p.arch = a.arch
		if p.variant == "" {
			p.variant = a.variant
		}
	}
	if strings.Contains(p.os, "/") {
		return platform{}, fmt.Errorf("os %q: expected an operating system such as \"linux\"", osName)
	}
	if v := strings.ToLower(strings.TrimSpace(variant)); v != "" {
		if strings.Contains(v, "/") {
			return platform{}, fmt.Errorf("variant %q: expected a variant such as \"v7\" or \"v8\"", variant)
		}
		if p.variant != "" && p.variant != v {
			return platform{}, fmt.Errorf("arch %q means variant %q, but variant is %q: give the variant once", arch, p.variant, variant)
		}
		p.variant = v
	}
	return p, nil
}

func fromV1(p *v1.Platform) platform {
	return platform{os: p.OS, arch: p.Architecture, variant: p.Variant}
}

// canonical gives the variant the index usually leaves out its default
// value: arm64 means arm64/v8, arm means arm/v7 (as containerd and Docker
// read them).
func (p platform) canonical() platform {
	p.os = strings.ToLower(p.os)
	p.arch = strings.ToLower(p.arch)
	p.variant = strings.ToLower(p.variant)
	switch {
	case p.arch == "arm64" && p.variant == "v8":
		p.variant = ""
	case p.arch == "arm" && p.variant == "":
		p.variant = "v7"
	}
	return p
}

// variantOrder lists, for the architectures that have variants, the
// variants from the most to the least capable: a machine of one runs the
// ones after it too (containers/image's table).
var variantOrder = map[string][]string{
	"arm":   {"v7", "v6", "v5"},
	"arm64": {"v8"},
}

// baseVariant is the variant every machine of the architecture has.
var baseVariant = map[string]string{"arm64": "v8"}

// wanted lists the platforms skopeo accepts for want, the preferred first:
// with a variant, that variant, the less capable ones after it, then no
// variant; without one, no variant, then the architecture's base variant.
func (want platform) wanted() []platform {
	var variants []string
	if want.variant != "" {
		order := variantOrder[want.arch]
		i := slices.Index(order, want.variant)
		if i < 0 {
			variants = []string{want.variant}
		} else {
			variants = slices.Clone(order[i:])
		}
		variants = append(variants, "")
	} else {
		variants = []string{""}
		if b, ok := baseVariant[want.arch]; ok {
			variants = append(variants, b)
		}
	}
	ps := make([]platform, len(variants))
	for i, v := range variants {
		ps[i] = platform{os: want.os, arch: want.arch, variant: v}
	}
	return ps
}

// zstdAnnotation marks the zstd copy of an image in an index (podman
// manifest push --add-compression zstd). Current skopeo prefers it to the
// gzip copy beside it, skopeo 1.9.3 takes whichever comes first; both give
// the same archive, which holds the layers uncompressed.
const zstdAnnotation = "io.github.containers.compression.zstd"

type candidate struct {
	rank, position int
	zstd           bool
}

func (c candidate) better(o candidate) bool {
	switch {
	case c.rank != o.rank:
		return c.rank < o.rank
	case c.zstd != o.zstd:
		return c.zstd
	}
	return c.position < o.position
}

// pickPlatform returns the entry of the index for want, as skopeo picks it:
// the entry whose os, architecture and variant equal the first of
// want.wanted() that any entry has, a zstd copy before a gzip one, the
// first in the index among equals. Failing that, an OCI index's entry
// without a platform (as current skopeo takes it; 1.9.3 does not). Failing
// that, an entry equal to want once the variants an index usually leaves
// out are filled in (arm is arm/v7, arm64/v8 is arm64), which skopeo would
// not take. The choice depends only on the index's bytes.
func pickPlatform(idx *v1.IndexManifest, want platform, indexDigest string) (v1.Descriptor, error) {
	wanted := want.wanted()
	oci := idx.MediaType != types.DockerManifestList
	best := -1
	var bestC candidate
	for i, m := range idx.Manifests {
		c := candidate{rank: len(wanted), position: i, zstd: m.Annotations[zstdAnnotation] == "true"}
		switch {
		case m.Platform != nil:
			got := fromV1(m.Platform)
			c.rank = slices.Index(wanted, got)
			if c.rank < 0 {
				continue
			}
		case !oci:
			continue
		}
		if best < 0 || c.better(bestC) {
			best, bestC = i, c
		}
	}
	if best >= 0 {
		return idx.Manifests[best], nil
	}
	return pickCanonical(idx, want, indexDigest)
}

// pickCanonical is pickPlatform's last resort: entries compared with the
// default variants filled in, the first match taken.
func pickCanonical(idx *v1.IndexManifest, want platform, indexDigest string) (v1.Descriptor, error) {
	w := want.canonical()
	var have []string
	seen := map[string]bool{}
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		got := fromV1(m.Platform)
		if got.canonical() == w {
			return m, nil
		}
		// Attestation manifests (buildkit's provenance) say unknown/unknown.
		if s := got.String(); got.os != "unknown" && !seen[s] {
			seen[s] = true
			have = append(have, s)
		}
	}
	if len(have) == 0 {
		return v1.Descriptor{}, fmt.Errorf("no %s image in index %s; it lists no image with a platform", want, indexDigest)
	}
	return v1.Descriptor{}, fmt.Errorf("no %s image in index %s; it has %s", want, indexDigest, strings.Join(have, ", "))
}

// platformMismatch compares a single image's config with what was asked
// for and says how they differ, or "". skopeo copies such an image without
// a word, so a nixpkgs hash may pin it: the pull goes on, with a warning. A
// config that does not say its os or architecture contradicts nothing. The
// variant is compared only when both sides name one, since configs often
// leave it out.
func platformMismatch(cfg imageConfig, want platform) string {
	got := platform{os: cfg.OS, arch: cfg.Architecture, variant: cfg.Variant}
	mismatch := (got.os != "" && !strings.EqualFold(got.os, want.os)) ||
		(got.arch != "" && !strings.EqualFold(got.arch, want.arch)) ||
		(got.variant != "" && want.variant != "" && got.canonical().variant != want.canonical().variant)
	if !mismatch {
		return ""
	}
	if got.os == "" {
		got.os = "?"
	}
	if got.arch == "" {
		got.arch = "?"
	}
	return fmt.Sprintf("the image is for %s, not %s (os/arch); pulling it all the same, as skopeo does (to pick by platform, give the digest of an index)", got, want)
}
