package layered

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"github.com/nix-dockertools/dockertools/outfile"
)

// plan is passthru.conf: what nixpkgs' conf.json says of the image, with
// its keys in its order, for the tools and tests that read that file.
// nixpkgs' customisation_layer (a store path this builder never makes) is
// left out. uid and gid are strings because nixpkgs writes them with
// `jq --arg`; created and mtime are as the user gave them (nixpkgs rewrites
// them with `date -Iseconds`).
type plan struct {
	Architecture string          `json:"architecture"`
	Config       json.RawMessage `json:"config"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	StoreDir     string          `json:"store_dir"`
	FromImage    *string         `json:"from_image"`
	StoreLayers  [][]string      `json:"store_layers"`
	RepoTag      string          `json:"repo_tag"`
	Created      string          `json:"created"`
	MTime        string          `json:"mtime"`
	UID          string          `json:"uid"`
	GID          string          `json:"gid"`
	Uname        string          `json:"uname"`
	Gname        string          `json:"gname"`
}

// planJSON is the text of passthru.conf, indented as jq prints it.
func planJSON(o *Options, storeLayers [][]string) ([]byte, error) {
	cfg, err := nixJSON(o.Config)
	if err != nil {
		return nil, err
	}
	p := plan{
		Architecture: o.Architecture, Config: cfg, OS: "linux", Variant: o.Variant,
		StoreDir: o.StoreDir, StoreLayers: storeLayers,
		RepoTag: o.ImageName + ":" + o.ImageTag, Created: o.Created, MTime: o.MTime,
		UID: strconv.Itoa(o.Owner.UID), GID: strconv.Itoa(o.Owner.GID), Uname: o.Owner.Uname, Gname: o.Owner.Gname,
	}
	if o.FromImage != "" {
		p.FromImage = &o.FromImage
	}
	if p.StoreLayers == nil {
		p.StoreLayers = [][]string{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writePlan writes passthru.conf to o.ConfOut.
func writePlan(o *Options, storeLayers [][]string) error {
	data, err := planJSON(o, storeLayers)
	if err != nil {
		return err
	}
	return outfile.Write(o.ConfOut, 0o444, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
