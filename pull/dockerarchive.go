package pull

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/nix-dockertools/dockertools/archive"
)

// archiveWriter writes the docker-archive that `skopeo copy ...
// docker-archive:FILE:NAME:TAG` writes (containers/image's docker/tarfile),
// so that a hash pinned with nixpkgs' skopeo-based pullImage verifies here.
// Its members, in order:
//
//   - each layer once, uncompressed, as <diff_id hex>.tar;
//   - the config, unchanged, as <config digest hex>.json;
//   - per layer a legacy (v1) directory <v1 id>/ holding layer.tar (a
//     symlink to ../<diff_id hex>.tar), VERSION ("1.0") and json;
//   - manifest.json and repositories.
//
// Every header is what Go's tar.FileInfoHeader makes of a file of mode 0444
// (or a symlink of mode 0) with mtime 0, in the format archive/tar picks; no
// JSON file ends in a newline; the archive ends with two zero blocks.
type archiveWriter struct {
	tw      *tar.Writer
	written map[string]bool // member names
	layers  []string        // manifest.json's Layers, one per layer of the image
	diffIDs []string
}

func newArchiveWriter(w io.Writer) *archiveWriter {
	return &archiveWriter{tw: tar.NewWriter(w), written: map[string]bool{}}
}

// memberInfo describes a member the way containers/image does, so that
// tar.FileInfoHeader gives the same header it gives skopeo.
type memberInfo struct {
	name    string
	size    int64
	symlink bool
}

func (m memberInfo) Name() string { return m.name }
func (m memberInfo) Size() int64  { return m.size }
func (m memberInfo) Mode() fs.FileMode {
	if m.symlink {
		return fs.ModeSymlink
	}
	return 0o444
}
func (m memberInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (m memberInfo) IsDir() bool        { return false }
func (m memberInfo) Sys() any           { return nil }

func (a *archiveWriter) header(m memberInfo, link string) error {
	h, err := tar.FileInfoHeader(m, link)
	if err != nil {
		return fmt.Errorf("tar header for %s: %w", m.name, err)
	}
	if err := a.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing %s: %w", m.name, err)
	}
	return nil
}

func (a *archiveWriter) file(name string, data []byte) error {
	if err := a.header(memberInfo{name: name, size: int64(len(data))}, ""); err != nil {
		return err
	}
	if _, err := a.tw.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func layerFileName(diffID string) string { return strings.TrimPrefix(diffID, "sha256:") + ".tar" }

// AddLayer appends the next layer of the image, of the given uncompressed
// size; write must write exactly size bytes. A layer already in the archive
// is only listed again (write is not called), as skopeo does.
func (a *archiveWriter) AddLayer(diffID string, size int64, write func(io.Writer) error) error {
	name := layerFileName(diffID)
	a.layers = append(a.layers, name)
	a.diffIDs = append(a.diffIDs, diffID)
	if a.written[name] {
		return nil
	}
	a.written[name] = true
	if err := a.header(memberInfo{name: name, size: size}, ""); err != nil {
		return err
	}
	if err := write(a.tw); err != nil {
		return err
	}
	// The tar writer knows whether the layer had the announced size.
	if err := a.tw.Flush(); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	return nil
}

// manifestItem is one image of manifest.json; the field order is the
// file's key order.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Finish writes the config (whose digest the manifest gave and the pull
// checked), the legacy directories, manifest.json and repositories, and
// ends the archive. repo and tag are the normalized reference
// (normalizeReference).
func (a *archiveWriter) Finish(config []byte, configDigest, repo, tag string) error {
	cfgName := strings.TrimPrefix(configDigest, "sha256:") + ".json"
	if err := a.file(cfgName, config); err != nil {
		return err
	}
	v1, err := legacyLayers(a.diffIDs, config)
	if err != nil {
		return err
	}
	for _, l := range v1 {
		if err := a.legacyLayer(l); err != nil {
			return err
		}
	}
	layers := a.layers
	if layers == nil {
		layers = []string{}
	}
	m, err := json.Marshal([]manifestItem{{Config: cfgName, RepoTags: []string{repo + ":" + tag}, Layers: layers}})
	if err != nil {
		return err
	}
	if err := a.file("manifest.json", m); err != nil {
		return err
	}
	// repositories names the top layer's v1 id; an image without layers
	// has none, and the file is an empty object.
	repos := map[string]map[string]string{}
	if len(v1) > 0 {
		repos[repo] = map[string]string{tag: v1[len(v1)-1].id}
	}
	r, err := json.Marshal(repos)
	if err != nil {
		return err
	}
	if err := a.file("repositories", r); err != nil {
		return err
	}
	return a.tw.Close()
}

func (a *archiveWriter) legacyLayer(l v1Layer) error {
	// Two layers with the same v1 id would be the same layer at the same
	// place of the same chain: written once.
	if a.written[l.id+"/"] {
		return nil
	}
	a.written[l.id+"/"] = true
	link := memberInfo{name: path.Join(l.id, "layer.tar"), symlink: true}
	if err := a.header(link, path.Join("..", layerFileName(l.diffID))); err != nil {
		return err
	}
	if err := a.file(path.Join(l.id, "VERSION"), []byte("1.0")); err != nil {
		return err
	}
	return a.file(path.Join(l.id, "json"), l.json)
}

// v1Layer is a layer as the legacy (docker save before 1.10) format lists
// it.
type v1Layer struct {
	id, diffID string
	json       []byte
}

// topLayerKeys are the config fields the top layer's legacy json repeats
// (as null when the config lacks them).
var topLayerKeys = []string{"architecture", "config", "container", "container_config", "created", "docker_version", "os"}

// legacyLayers derives the v1 ids and json files of the layers, as
// containers/image does: each layer's json is {"parent": <previous id>}
// (none for the first) plus, for the top layer, topLayerKeys from the
// config; the id is the sha256 of that json with "layer_id" set to the
// layer's chain ID (the first diff_id, then sha256 of "<previous chain ID>
// <diff_id>"); the file written is the json with "id" instead. encoding/json
// makes both: keys sorted, no spaces, config values compacted with <, >
// and & escaped.
func legacyLayers(diffIDs []string, config []byte) ([]v1Layer, error) {
	if len(diffIDs) == 0 {
		return nil, nil
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("reading the image config as an object: %w", err)
	}
	var out []v1Layer
	chain, parent := "", ""
	for i, diffID := range diffIDs {
		fields := map[string]any{}
		if parent != "" {
			fields["parent"] = parent
		}
		if i == len(diffIDs)-1 {
			for _, k := range topLayerKeys {
				fields[k] = cfg[k] // a missing key is a nil RawMessage: null
			}
		}
		if chain == "" {
			chain = diffID
		} else {
			chain = archive.Digest([]byte(chain + " " + diffID))
		}
		fields["layer_id"] = chain
		withChain, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("layer %d's legacy json: %w", i+1, err)
		}
		delete(fields, "layer_id")
		id := strings.TrimPrefix(archive.Digest(withChain), "sha256:")
		fields["id"] = id
		b, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("layer %d's legacy json: %w", i+1, err)
		}
		out = append(out, v1Layer{id: id, diffID: diffID, json: b})
		parent = id
	}
	return out, nil
}
