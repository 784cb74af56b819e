package layer

// splitDev uses Darwin's layout: 8-bit major in the top byte of a 32-bit
// dev_t, 24-bit minor below it.
func splitDev(dev uint64) (major, minor int64, ok bool) {
	return int64((dev >> 24) & 0xff), int64(dev & 0xffffff), true
}
