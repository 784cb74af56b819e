package layering

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/nix-dockertools/dockertools/closure"
)

// WriteDebug describes r for a person wondering why a path landed where it
// did: every layer in order (excluded paths included), its sizes, its key
// and its paths.
func WriteDebug(w io.Writer, r Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "auto-layer: %d layers, %d in the image\n", len(r.Info), len(r.Layers))
	image := 0
	for i, info := range r.Info {
		where := "left out: only excluded paths"
		if len(info.Excluded) < len(info.Paths) {
			image++
			where = fmt.Sprintf("image store layer %d", image)
		}
		fmt.Fprintf(&b, "\nlayer %d (%s): %s, %s; closure %s\n",
			i, where, plural(len(info.Paths), "path"), humanBytes(info.LayerSize), humanBytes(info.ClosureSize))
		fmt.Fprintf(&b, "  %s\n", describeKey(info))
		for _, p := range info.Paths {
			var notes []string
			if slices.Contains(info.UsedBy, p) {
				notes = append(notes, "primary")
			}
			if slices.Contains(info.Excluded, p) {
				notes = append(notes, "excluded")
			}
			if len(notes) > 0 {
				fmt.Fprintf(&b, "  %s (%s)\n", p, strings.Join(notes, ", "))
			} else {
				fmt.Fprintf(&b, "  %s\n", p)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describeKey says why the layer's paths are together.
func describeKey(info LayerInfo) string {
	names := make([]string, len(info.UsedBy))
	for i, p := range info.UsedBy {
		// The names are for people: whatever the store directory, it is
		// the one the path is in.
		names[i] = closure.Name(path.Dir(p), p)
	}
	switch {
	case len(names) == 0:
		return "used by no primary path: the paths left when the layer limit was reached"
	case len(names) == 1 && slices.Contains(info.Paths, info.UsedBy[0]):
		return fmt.Sprintf("primary path %s, with the dependencies no other primary path uses", names[0])
	default:
		return fmt.Sprintf("used by the primary paths %s and no other", strings.Join(names, ", "))
	}
}

// humanBytes gives a size in binary units and exactly, since layer sizes
// are compared with what registries and `docker history` report.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	f := float64(n) / unit
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s (%d bytes)", f, units[i], n)
}
