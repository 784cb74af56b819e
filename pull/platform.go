package pull

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// pickPlatform returns the entry of the index for want. Entries are compared
// on os, architecture and variant (with the default variants filled in); when
// several match (they differ in os.version or features), the first one in
// the index is taken, so the choice depends only on the index's bytes.
func pickPlatform(idx *v1.IndexManifest, want platform, indexDigest string) (v1.Descriptor, error) {
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

// checkPlatform compares a single image's config with what was asked for.
// A config that does not say its os or architecture passes: nothing is
// known to contradict the request. The variant is compared only when both
// sides name one, since configs often leave it out.
func checkPlatform(cfg imageConfig, want platform) error {
	got := platform{os: cfg.OS, arch: cfg.Architecture, variant: cfg.Variant}
	mismatch := (got.os != "" && !strings.EqualFold(got.os, want.os)) ||
		(got.arch != "" && !strings.EqualFold(got.arch, want.arch)) ||
		(got.variant != "" && want.variant != "" && got.canonical().variant != want.canonical().variant)
	if mismatch {
		if got.os == "" {
			got.os = "?"
		}
		if got.arch == "" {
			got.arch = "?"
		}
		return fmt.Errorf("the image is for %s, not %s (os/arch): give the digest of the %s image, or of an index that has one, or set os/arch to %s", got, want, want, got)
	}
	return nil
}
