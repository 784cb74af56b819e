//go:build !unix

package layer

import "os"

type source struct{ f *os.File }

func openSource(path string) (source, error) {
	f, err := os.Open(path)
	return source{f}, err
}

func (s source) read(p []byte) (int, error) { return s.f.Read(p) }

func (s source) close() { s.f.Close() }
