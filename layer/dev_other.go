//go:build unix && !linux && !darwin

package layer

// splitDev refuses rather than guess: the dev_t layout differs between the
// BSDs and a wrong guess would silently produce a different device.
func splitDev(uint64) (major, minor int64, ok bool) { return 0, 0, false }
