package archive

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// ManifestEntry is one image of a docker-archive's manifest.json.
type ManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// RootFS is the rootfs field of an image config.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History is one entry of an image config's history.
type History struct {
	Created    string `json:"created,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	Comment    string `json:"comment,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

// Config is an image config (the <digest>.json of a docker-archive). The
// container config is kept as raw JSON because users may set any key.
type Config struct {
	Created      string          `json:"created,omitempty"`
	Architecture string          `json:"architecture"`
	Variant      string          `json:"variant,omitempty"` // of the architecture: "v7" for arm/v7
	OS           string          `json:"os"`
	Config       json.RawMessage `json:"config,omitempty"`
	RootFS       RootFS          `json:"rootfs"`
	History      []History       `json:"history,omitempty"`
}

// Env returns the Env list of a container config.
func Env(containerConfig json.RawMessage) ([]string, error) {
	if len(containerConfig) == 0 || string(containerConfig) == "null" {
		return nil, nil
	}
	var c struct {
		Env []string `json:"Env"`
	}
	if err := json.Unmarshal(containerConfig, &c); err != nil {
		return nil, fmt.Errorf("reading Env of the image config: %w", err)
	}
	return c.Env, nil
}

// MergeEnv puts the base image's Env before the new one, keeping one entry
// per variable: the last value wins, at the position where the variable first
// appeared (what nixpkgs does, so images keep the same config digest).
func MergeEnv(base, add []string) []string {
	var out []string
	pos := map[string]int{}
	for _, kv := range append(append([]string(nil), base...), add...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := pos[k]; ok {
			out[i] = kv
			continue
		}
		pos[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// ContainerConfig returns the user's config (a JSON object or null) with Env
// replaced by the merge of baseEnv and the user's Env. Keys come out sorted,
// as Nix's builtins.toJSON writes them, so the result is deterministic.
func ContainerConfig(user json.RawMessage, baseEnv []string) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(user) > 0 && string(user) != "null" {
		if err := json.Unmarshal(user, &m); err != nil {
			return nil, fmt.Errorf("attribute \"config\": expected an attribute set: %w", err)
		}
	}
	env, err := Env(user)
	if err != nil {
		return nil, fmt.Errorf("attribute \"config\": Env must be a list of strings: %w", err)
	}
	if merged := MergeEnv(baseEnv, env); len(merged) > 0 {
		b, err := json.Marshal(merged)
		if err != nil {
			return nil, err
		}
		m["Env"] = b
	}
	return json.Marshal(m)
}

// cleanMember rejects names that would escape the archive when resolved.
func cleanMember(name string) (string, error) {
	c := path.Clean(strings.TrimPrefix(name, "./"))
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, "/") {
		return "", fmt.Errorf("member name %q leaves the archive", name)
	}
	return c, nil
}
