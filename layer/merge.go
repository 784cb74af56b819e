package layer

import (
	"slices"
	"strings"
)

// Merge combines entry lists into the entries of one layer, as if they were
// extracted in order: an entry replaces an earlier one of the same name,
// except that a directory meeting a directory keeps the first header, and
// whatever lay under a directory that a later list replaced by a file or
// link is dropped. Names are compared without a leading "/" or "./" and
// without a trailing "/", but kept as given. The result is in the
// component-wise order every layer here has.
func Merge(lists ...[]Entry) []Entry {
	byKey := map[string]Entry{}
	for _, list := range lists {
		for _, e := range list {
			k := mergeKey(e.Name)
			if old, ok := byKey[k]; ok && old.Typeflag == TypeDir && e.Typeflag == TypeDir {
				continue
			}
			byKey[k] = e
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePaths)
	out := make([]Entry, 0, len(keys))
	for _, k := range keys {
		if hiddenByAncestor(k, byKey) {
			continue
		}
		out = append(out, byKey[k])
	}
	return out
}

func mergeKey(name string) string {
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	return strings.Trim(name, "/")
}

// hiddenByAncestor tells whether a parent of k is not a directory.
func hiddenByAncestor(k string, byKey map[string]Entry) bool {
	for i := strings.LastIndexByte(k, '/'); i > 0; i = strings.LastIndexByte(k[:i], '/') {
		if p, ok := byKey[k[:i]]; ok && p.Typeflag != TypeDir {
			return true
		}
	}
	return false
}

// comparePaths orders slash-separated paths component by component, so a
// directory's subtree directly follows it ("a/b" before "a-b").
func comparePaths(a, b string) int {
	for {
		ca, ra, moreA := strings.Cut(a, "/")
		cb, rb, moreB := strings.Cut(b, "/")
		if c := comparePyStr(ca, cb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}
