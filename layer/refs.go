package layer

import "fmt"

// Scanner is what References feeds: link targets and files' contents
// (closure.RefScanner).
type Scanner interface {
	Bytes([]byte)
	File(path string) error
}

// References feeds s every link target and regular file of entries, so
// that it finds the store paths a layer refers to.
func References(entries []Entry, s Scanner) error {
	for _, e := range entries {
		switch {
		case e.Typeflag == TypeSymlink:
			s.Bytes([]byte(e.Linkname))
		case e.Typeflag == TypeReg && e.Source != "":
			if err := s.File(e.Source); err != nil {
				return fmt.Errorf("scanning %s for store paths: %w", e.Name, err)
			}
		}
	}
	return nil
}
