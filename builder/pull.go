package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nix-community/go-nix/pkg/nixbase32"

	"github.com/nix-dockertools/dockertools/outfile"
	"github.com/nix-dockertools/dockertools/pull"
)

// pullImage is pullImage's fixed-output derivation: the image, as an
// uncompressed docker-archive, whose hash Nix then checks.
func pullImage(_ []string) error {
	a, out, err := loadBuild()
	if err != nil {
		return err
	}
	g := a.Getter()
	// idleTimeout (seconds, optional) is how long a download may receive
	// nothing before it fails; unset: pull.DefaultIdleTimeout (5 minutes, or
	// $DOCKERTOOLS_IDLE_TIMEOUT seconds, which is what nix-prefetch-docker reads).
	// nixlib's pullImage passes its idleTimeout argument when given.
	idle := g.Int("idleTimeout", 0)
	o := pull.Options{
		ImageName:   g.String("imageName", ""),
		ImageDigest: g.String("imageDigest", ""),
		OS:          g.String("os", "linux"),
		Arch:        g.String("arch", runtime.GOARCH),
		Variant:     g.String("variant", ""),
		TLSVerify:   g.Bool("tlsVerify", true),
		FinalName:   g.String("finalImageName", ""),
		FinalTag:    g.String("finalImageTag", "latest"),
		TempDir:     workDir(),
		Log:         os.Stderr,
		IdleTimeout: time.Duration(idle) * time.Second,
	}
	if err := g.Err(); err != nil {
		return err
	}
	if idle < 0 {
		return fmt.Errorf("pullImage: idleTimeout %d must be a positive number of seconds", idle)
	}
	return outfile.Write(out, 0o444, func(w io.Writer) error { return pull.Pull(context.Background(), o, w) })
}

// prefetchName is pullImage's default output name, which the prefetched
// file must have so that Nix finds it in the store under the same path.
func prefetchName(finalName, finalTag string) string {
	return strings.NewReplacer("/", "-", ":", "-").Replace("docker-image-" + finalName + "-" + finalTag + ".tar")
}

// prefetchResult is what nix-prefetch-docker --json prints, in its order.
type prefetchResult struct {
	ImageName      string `json:"imageName"`
	ImageDigest    string `json:"imageDigest"`
	Hash           string `json:"hash"`
	FinalImageName string `json:"finalImageName"`
	FinalImageTag  string `json:"finalImageTag"`
}

// prefetch is nix-prefetch-docker: it pins a tag to a digest, downloads the
// image as pullImage will (the bytes nixpkgs' skopeo writes, so the hash is
// the one nixpkgs' nix-prefetch-docker prints), adds it to the store and
// prints pullImage's arguments.
func prefetch(args []string) error {
	fs := flag.NewFlagSet("nix-prefetch-docker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: nix-prefetch-docker [options] [IMAGE_NAME [IMAGE_TAG|IMAGE_DIGEST]]")
		fs.PrintDefaults()
	}
	osName := fs.String("os", "linux", "OS to fetch the image for")
	arch := fs.String("arch", "amd64", "architecture to fetch the image for")
	name := fs.String("image-name", "", "name of the image to fetch")
	tag := fs.String("image-tag", "", "image tag (default latest)")
	digest := fs.String("image-digest", "", "image digest (instead of a tag)")
	finalName := fs.String("final-image-name", "", "name of the image in the archive (default: the image name)")
	finalTag := fs.String("final-image-tag", "", "tag of the image in the archive (default: the image tag, else latest)")
	asJSON := fs.Bool("json", false, "print JSON instead of a Nix attribute set")
	quiet := fs.Bool("quiet", false, "print only the result")
	tlsVerify := fs.Bool("tls-verify", true, "use HTTPS and check the registry's certificate (false: plain HTTP, as pullImage's tlsVerify = false)")
	positional, help, err := parseMixed(fs, args)
	if help || err != nil {
		return err
	}
	switch len(positional) {
	case 2:
		if strings.HasPrefix(positional[1], "sha256:") {
			*digest = positional[1]
		} else {
			*tag = positional[1]
		}
		fallthrough
	case 1:
		*name = positional[0]
	case 0:
	default:
		return fmt.Errorf("too many arguments: %q (expected IMAGE_NAME [IMAGE_TAG|IMAGE_DIGEST])", positional)
	}
	if *name == "" {
		fs.Usage()
		return errors.New("no image name given")
	}
	if *finalName == "" {
		*finalName = *name
	}
	if *finalTag == "" {
		*finalTag = *tag
		if *finalTag == "" {
			*finalTag = "latest"
		}
	}
	log := io.Writer(os.Stderr)
	if *quiet {
		log = io.Discard
	}
	ctx := context.Background()
	if *digest == "" {
		d, err := pull.Resolve(ctx, *name, *tag, *tlsVerify)
		if err != nil {
			return err
		}
		*digest = d
	}

	tmp, err := os.MkdirTemp("", "nix-prefetch-docker-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, prefetchName(*finalName, *finalTag))
	h := sha256.New()
	err = outfile.Write(file, 0o444, func(w io.Writer) error {
		return pull.Pull(ctx, pull.Options{ImageName: *name, ImageDigest: *digest, OS: *osName, Arch: *arch,
			TLSVerify: *tlsVerify, FinalName: *finalName, FinalTag: *finalTag, TempDir: tmp, Log: log}, io.MultiWriter(w, h))
	})
	if err != nil {
		return err
	}
	sum := h.Sum(nil)
	sri := "sha256-" + base64.StdEncoding.EncodeToString(sum)
	add := exec.Command("nix-store", "--add-fixed", "sha256", file)
	add.Stderr = os.Stderr
	storePath, err := add.Output()
	if err != nil {
		return fmt.Errorf("adding the image to the store (nix-store --add-fixed): %w", err)
	}
	// As nixpkgs' script: the log line has the hash in Nix's base32, the
	// result in SRI form.
	fmt.Fprintf(log, "-> ImageName: %s\n-> ImageDigest: %s\n-> FinalImageName: %s\n-> FinalImageTag: %s\n-> ImagePath: %s\n-> ImageHash: %s\n",
		*name, *digest, *finalName, *finalTag, strings.TrimSpace(string(storePath)), nixbase32.EncodeToString(sum))
	if *asJSON {
		// The keys in nixpkgs' order, for scripts that compare the text.
		b, err := json.MarshalIndent(prefetchResult{*name, *digest, sri, *finalName, *finalTag}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Printf("%s\n", b)
		return nil
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	fmt.Printf("{\n  imageName = %s;\n  imageDigest = %s;\n  hash = %s;\n  finalImageName = %s;\n  finalImageTag = %s;\n}\n",
		q(*name), q(*digest), q(sri), q(*finalName), q(*finalTag))
	return nil
}
