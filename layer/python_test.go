package layer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var owners = []struct {
	name  string
	o     Owner
	mtime int64
}{
	{"root", Owner{0, 0, "root", "root"}, 1},
	{"user", Owner{1000, 1000, "user", "user"}, 1700000000},
	{"long-uname", Owner{0, 0, strings.Repeat("u", 40), "g"}, 0},
	{"uname-32", Owner{0, 0, strings.Repeat("u", 32), strings.Repeat("g", 33)}, 0},
	{"non-ascii-names", Owner{42, 43, "jöhn", "grüp"}, 5},
	{"empty-names", Owner{0, 0, "", ""}, 1},
	{"out-of-octal-range", Owner{1 << 21, 3000000, "big", "big"}, 1 << 33},
	{"negative", Owner{-1, -2, "neg", "neg"}, -1},
}

// TestStoreLayerMatchesPython is the contract with nixpkgs: the same store
// paths and owner must give the same bytes as CPython's tarfile.
func TestStoreLayerMatchesPython(t *testing.T) {
	fx := buildFixture(t)
	for _, tc := range owners {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "py.tar")
			args := []string{"store", out, strconv.FormatInt(tc.mtime, 10),
				strconv.Itoa(tc.o.UID), strconv.Itoa(tc.o.GID), tc.o.Uname, tc.o.Gname}
			runPython(t, nil, append(args, fx.paths...)...)
			want, err := os.ReadFile(out)
			mustDo(t, err)

			entries, err := StoreEntries("/nix/store", fx.paths, tc.o, tc.mtime)
			mustDo(t, err)
			var buf bytes.Buffer
			n, digest, err := Write(&buf, entries)
			mustDo(t, err)
			got := buf.Bytes()
			if digest != sha(want) {
				t.Fatalf("digest %s, python %s; %s", digest, sha(want), firstDiff(got, want))
			}
			if n != int64(len(want)) {
				t.Errorf("Write returned n=%d, python wrote %d bytes", n, len(want))
			}
			size, err := ArchiveSize(entries)
			mustDo(t, err)
			if size != int64(len(want)) {
				t.Errorf("ArchiveSize %d, python wrote %d bytes", size, len(want))
			}
		})
	}
}

func TestStoreLayerNoPathsMatchesPython(t *testing.T) {
	out := filepath.Join(t.TempDir(), "py.tar")
	runPython(t, nil, "store", out, "1", "0", "0", "root", "root")
	want, err := os.ReadFile(out)
	mustDo(t, err)
	entries, err := StoreEntries("/nix/store", nil, Owner{0, 0, "root", "root"}, 1)
	mustDo(t, err)
	var buf bytes.Buffer
	_, _, err = Write(&buf, entries)
	mustDo(t, err)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal(firstDiff(buf.Bytes(), want))
	}
}

type pyHeader struct {
	Name     string `json:"name"`
	Linkname string `json:"linkname"`
	Uname    string `json:"uname"`
	Gname    string `json:"gname"`
	Type     byte   `json:"type"`
	Mode     int64  `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Size     int64  `json:"size"`
	MTime    int64  `json:"mtime"`
	Devmajor int64  `json:"devmajor"`
	Devminor int64  `json:"devminor"`
}

func headerCases() map[string]Header {
	base := Header{Name: "f", Typeflag: TypeReg, Mode: 0o644, Uname: "root", Gname: "root", MTime: 1}
	with := func(f func(h *Header)) Header {
		h := base
		f(&h)
		return h
	}
	cases := map[string]Header{
		"plain":              base,
		"dir-without-slash":  with(func(h *Header) { h.Typeflag, h.Name = TypeDir, "d" }),
		"dir-with-slash":     with(func(h *Header) { h.Typeflag, h.Name = TypeDir, "/nix/store/" }),
		"mode-with-type":     with(func(h *Header) { h.Mode = 0o104755 }),
		"sticky":             with(func(h *Header) { h.Mode = 0o1777 }),
		"negative-mode":      with(func(h *Header) { h.Mode = -1 }),
		"symlink":            with(func(h *Header) { h.Typeflag, h.Linkname = TypeSymlink, "../x" }),
		"link-100":           with(func(h *Header) { h.Typeflag, h.Linkname = TypeSymlink, strings.Repeat("l", 100) }),
		"link-101":           with(func(h *Header) { h.Typeflag, h.Linkname = TypeSymlink, strings.Repeat("l", 101) }),
		"link-non-ascii":     with(func(h *Header) { h.Typeflag, h.Linkname = TypeSymlink, "zié" }),
		"link-not-utf8":      with(func(h *Header) { h.Typeflag, h.Linkname = TypeSymlink, "z\xff\xfe" }),
		"uname-33":           with(func(h *Header) { h.Uname = strings.Repeat("u", 33) }),
		"gname-non-ascii-33": with(func(h *Header) { h.Gname = strings.Repeat("ü", 20) }),
		"all-strings":        with(func(h *Header) { h.Name, h.Linkname, h.Uname, h.Gname = "ä", "ö", "ü", "ß" }),
		"binary-and-utf8":    with(func(h *Header) { h.Name, h.Uname = "bad\xc3", "jöhn" }),
		"surrogate-bytes":    with(func(h *Header) { h.Name = "x\xed\xa0\x80y" }),
		"uid-max":            with(func(h *Header) { h.UID, h.GID = 1<<21-1, 1<<21-1 }),
		"uid-over":           with(func(h *Header) { h.UID, h.GID = 1<<21, 1<<22 }),
		"uid-negative":       with(func(h *Header) { h.UID, h.GID = -1, -7 }),
		"size-max":           with(func(h *Header) { h.Size = 1<<33 - 1 }),
		"size-over":          with(func(h *Header) { h.Size = 1 << 33 }),
		"mtime-over":         with(func(h *Header) { h.MTime = 1 << 33 }),
		"mtime-negative":     with(func(h *Header) { h.MTime = -1 }),
		"everything-pax": with(func(h *Header) {
			h.Name, h.Linkname, h.Uname, h.Gname = strings.Repeat("p", 200), strings.Repeat("q", 300), "ü", "ä"
			h.UID, h.GID, h.Size, h.MTime = -1, 1<<40, 1<<40, -5
		}),
		"char-device":    with(func(h *Header) { h.Typeflag, h.Devmajor, h.Devminor = TypeChar, 1, 3 }),
		"block-device":   with(func(h *Header) { h.Typeflag, h.Devmajor, h.Devminor = TypeBlock, 259, 1<<20 }),
		"device-max":     with(func(h *Header) { h.Typeflag, h.Devmajor, h.Devminor = TypeChar, 1<<21-1, 0 }),
		"device-over":    with(func(h *Header) { h.Typeflag, h.Devmajor = TypeChar, 1<<21 }),
		"device-neg":     with(func(h *Header) { h.Typeflag, h.Devminor = TypeBlock, -1 }),
		"fifo-with-devs": with(func(h *Header) { h.Typeflag, h.Devmajor = TypeFifo, 1<<30 }),
	}
	for n := 98; n <= 102; n++ {
		cases["name-"+strconv.Itoa(n)] = with(func(h *Header) { h.Name = strings.Repeat("n", n) })
	}
	// Non-ASCII names around the points where the record length gains a
	// digit (99->100 and 999->1000 bytes).
	for _, n := range []int{85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 500, 986, 987, 988, 989, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999, 1000} {
		cases["utf8-name-"+strconv.Itoa(n)] = with(func(h *Header) { h.Name = "é" + strings.Repeat("a", n-2) })
	}
	return cases
}

func TestEncodeHeaderMatchesPython(t *testing.T) {
	requirePython(t)
	cases := headerCases()
	var names []string
	var stdin bytes.Buffer
	enc := json.NewEncoder(&stdin)
	for name, h := range cases {
		names = append(names, name)
		mustDo(t, enc.Encode(pyHeader{
			Name: hex.EncodeToString([]byte(h.Name)), Linkname: hex.EncodeToString([]byte(h.Linkname)),
			Uname: hex.EncodeToString([]byte(h.Uname)), Gname: hex.EncodeToString([]byte(h.Gname)),
			Type: h.Typeflag, Mode: h.Mode, UID: h.UID, GID: h.GID, Size: h.Size, MTime: h.MTime,
			Devmajor: h.Devmajor, Devminor: h.Devminor,
		}))
	}
	lines := strings.Split(strings.TrimSpace(string(runPython(t, stdin.Bytes(), "headers"))), "\n")
	if len(lines) != len(names) {
		t.Fatalf("python answered %d headers for %d cases", len(lines), len(names))
	}
	for i, name := range names {
		h, want := cases[name], lines[i]
		t.Run(name, func(t *testing.T) {
			got, err := EncodeHeader(&h)
			if want == "error" {
				if err == nil {
					t.Fatalf("python refused the header, EncodeHeader accepted it")
				}
				return
			}
			mustDo(t, err)
			wantBytes, err := hex.DecodeString(want)
			mustDo(t, err)
			if !bytes.Equal(got, wantBytes) {
				t.Fatalf("%s", firstDiff(got, wantBytes))
			}
			if h.Typeflag == TypeReg && h.Size < 1<<20 {
				size, err := EntrySize(&h)
				mustDo(t, err)
				if size != int64(len(got))+roundBlock(h.Size) {
					t.Errorf("EntrySize %d, header %d + content %d", size, len(got), roundBlock(h.Size))
				}
			}
		})
	}
}
