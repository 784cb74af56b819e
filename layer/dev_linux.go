package layer

// splitDev decodes st_rdev the way glibc's major()/minor() (and therefore
// Python's os.major/os.minor) do.
func splitDev(dev uint64) (major, minor int64, ok bool) {
	major = int64((dev>>8)&0xfff | (dev>>32)&^0xfff)
	minor = int64(dev&0xff | (dev>>12)&^0xff)
	return major, minor, true
}
