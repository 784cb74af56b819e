package nixattrs

import (
	"fmt"
	"time"
)

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z0700",
}

// ParseTime reads an ISO-8601 date-time such as `created` or `mtime`. It
// reports now = true for "now", which the caller resolves when it should
// (at build time for mtime, at stream time for created). A time without a
// zone is UTC, as Python's fromisoformat-based nixpkgs treats it.
func ParseTime(attr, value string) (t time.Time, now bool, err error) {
	if value == "now" {
		return time.Time{}, true, nil
	}
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, value); err == nil {
			return t.UTC(), false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("attribute %q: expected an ISO-8601 date and time (like 1970-01-01T00:00:01Z) or \"now\", got %q", attr, value)
}

// FormatTime is how times are written into image configs.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// ResolveTime is ParseTime with "now" taken as now: for callers at the
// moment the time is due.
func ResolveTime(attr, value string, now time.Time) (time.Time, error) {
	t, isNow, err := ParseTime(attr, value)
	if isNow {
		t = now.UTC()
	}
	return t, err
}
