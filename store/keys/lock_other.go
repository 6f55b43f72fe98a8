//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package keys

import "os"

// tryLock reports true: without flock, a temporary key file being written may be removed by
// another start, and writeNew writes it again.
func tryLock(*os.File) bool { return true }

// lock does nothing without flock.
func lock(*os.File) error { return nil }
