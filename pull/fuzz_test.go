package pull

import (
	"bytes"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A registry's manifests, indexes and configs are untrusted: whatever they
// hold, reading them, picking a platform and making the archive's legacy
// layer metadata must end in a result or an error, never a panic.
func FuzzRegistryResponses(f *testing.F) {
	d := func(c string) string { return "sha256:" + string(bytes.Repeat([]byte(c), 64)) }
	image := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d("c") + `","size":2},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d("a") + `","size":3}]}`
	config := `{"os":"linux","architecture":"amd64","config":{"Env":["A=b"]},"rootfs":{"type":"layers","diff_ids":["` + d("b") + `"]},"history":[{"created_by":"x"}]}`
	index := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` +
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d("1") + `","size":5,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},` +
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d("2") + `","size":5,"platform":{"os":"linux","architecture":"amd64"}}]}`
	ociIndex := `{"schemaVersion":2,"manifests":[{"digest":"` + d("3") + `","size":5,"annotations":{"io.github.containers.compression.zstd":"true"}},{"digest":"` + d("4") + `","size":5}]}`
	for _, seed := range []struct{ manifest, contentType, config string }{
		{image, "", config},
		{image, string(types.DockerManifestSchema2), `{"rootfs":{"diff_ids":[]}}`},
		{index, "", ""},
		{ociIndex, string(types.OCIImageIndex), ""},
		{`{"schemaVersion":1,"fsLayers":[]}`, "", ""},
		{`{"config":{},"layers":[]}`, "", `null`},
		{`[]`, "", `[]`},
	} {
		f.Add([]byte(seed.manifest), seed.contentType, []byte(seed.config))
	}
	want, err := parsePlatform("linux", "amd64", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, manifest []byte, contentType string, config []byte) {
		k, err := manifestKind(manifest, types.MediaType(contentType))
		if err != nil {
			return
		}
		if k == kindIndex {
			idx, err := v1.ParseIndexManifest(bytes.NewReader(manifest))
			if err != nil {
				return
			}
			if idx.MediaType == "" {
				idx.MediaType = types.MediaType(contentType)
			}
			pickPlatform(idx, want, d("f"))
			return
		}
		m, err := v1.ParseManifest(bytes.NewReader(manifest))
		if err != nil {
			return
		}
		diffIDs, err := checkConfig(config, m, want, false, &logger{})
		if err != nil {
			return
		}
		legacyLayers(diffIDs, config)
	})
}
