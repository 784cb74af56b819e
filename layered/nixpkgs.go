package layered

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixbase32"

	"github.com/nix-dockertools/dockertools/closure"
)

// nixpkgs' streamLayeredImage layers the closure of two store objects it
// builds first: baseJson (the config file) and the customisation layer (a
// directory holding layer.tar and its checksum). This builder makes neither,
// but auto-layer and layering pipelines depend on them: they are roots of
// the graph, and auto-layer orders its candidates by narSize, so their sizes
// decide which paths become primary. imageGraph adds stand-ins with the
// sizes nixpkgs' objects would have.

// storeObject is a stand-in for one of nixpkgs' objects: a store path that
// is never built, and its NAR size.
type storeObject struct {
	Path    string
	NarSize uint64
}

// standIn names a stand-in in the store like nixpkgs names the object
// (<hash>-<name>-base.json). The hash is made up: it must only look like
// one, and be the same in every build of the image.
func standIn(storeDir, name, suffix string) string {
	sum := sha256.Sum256([]byte("dockertools stand-in\x00" + storeDir + "\x00" + name + suffix))
	return storeDir + "/" + nixbase32.EncodeToString(sum[:20]) + "-" + name + suffix
}

// baseJSON is the text of nixpkgs' baseJson: builtins.toJSON of
// { architecture; config; os = "linux"; } and variant when there is one,
// keys sorted as Nix sorts them.
func baseJSON(architecture, variant string, config json.RawMessage) ([]byte, error) {
	cfg, err := nixJSON(config)
	if err != nil {
		return nil, fmt.Errorf("attribute \"config\": %w", err)
	}
	return marshalNix(struct {
		Architecture string          `json:"architecture"`
		Config       json.RawMessage `json:"config"`
		OS           string          `json:"os"`
		Variant      string          `json:"variant,omitempty"`
	}{architecture, cfg, "linux", variant})
}

// nixJSON rewrites a JSON value as builtins.toJSON writes it: compact,
// object keys sorted, no HTML escaping, numbers as they were written (Nix
// wrote them when it made .attrs.json). Absent means null. Go escapes
// U+2028 and U+2029 where Nix does not: a config holding them gets a
// size a few bytes off, which only matters for a tie in auto-layer.
func nixJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return marshalNix(v)
}

func marshalNix(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// checksumSize is the customisation layer's checksum file: sha256sum's 64
// hex digits and a newline.
const checksumSize = 65

// customisationNarSize is the NAR size of nixpkgs' customisation layer
// directory: checksum and layer.tar, both regular, not executable.
func customisationNarSize(layerTarSize int64) uint64 {
	return narHeader + narDir(map[string]uint64{
		"checksum":  narRegular(checksumSize),
		"layer.tar": narRegular(layerTarSize),
	})
}

// fileNarSize is the NAR size of a store path that is a regular file.
func fileNarSize(size int64) uint64 { return narHeader + narRegular(size) }

// The NAR format writes every token as a string: its length as 8 bytes of
// little endian, then its bytes padded with zeros to a multiple of 8.
func narString(n int64) uint64 { return 8 + uint64(n+7)&^7 }

func narToken(s string) uint64 { return narString(int64(len(s))) }

// narHeader is the magic every NAR starts with.
var narHeader = narToken("nix-archive-1")

// narRegular is the node of a regular, non-executable file of size bytes:
// ( type regular contents <bytes> ).
func narRegular(size int64) uint64 {
	return narToken("(") + narToken("type") + narToken("regular") + narToken("contents") + narString(size) + narToken(")")
}

// narDir is the node of a directory whose entries' nodes have the given
// sizes: ( type directory, then entry ( name NAME node NODE ) for each, ).
// The order of entries does not change the size.
func narDir(entries map[string]uint64) uint64 {
	n := narToken("(") + narToken("type") + narToken("directory")
	for name, node := range entries {
		n += narToken("entry") + narToken("(") + narToken("name") + narToken(name) + narToken("node") + node + narToken(")")
	}
	return n + narToken(")")
}

// imageGraph is the graph nixpkgs would layer: the image's closure (without
// the file that carried its roots) and the stand-ins for baseJson, which
// references the store paths in config, and for the customisation layer,
// which references the contents. Nodes stay sorted by path, as
// exportReferencesGraph writes them, since ties follow that order.
func imageGraph(paths []closure.Path, objects []storeObject, refs [][]string) []closure.Path {
	g := slices.Clone(paths)
	for i, obj := range objects {
		r := slices.Clone(refs[i])
		slices.Sort(r)
		node := closure.Path{Path: obj.Path, NarSize: obj.NarSize, References: slices.Compact(r)}
		at := slices.IndexFunc(g, func(p closure.Path) bool { return p.Path > node.Path })
		if at < 0 {
			at = len(g)
		}
		g = slices.Insert(g, at, node)
	}
	return g
}

// baseName is nixpkgs' baseName (baseNameOf name): the stream derivation
// is called stream-<baseName>; without that name, the image name's last
// component stands in.
func baseName(drvName, imageName string) string {
	if n, ok := strings.CutPrefix(drvName, "stream-"); ok && n != "" {
		return n
	}
	return imageName[strings.LastIndexByte(imageName, '/')+1:]
}
