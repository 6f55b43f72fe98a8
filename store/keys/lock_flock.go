//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package keys

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive lock on f without waiting and reports whether it got it. The lock
// goes with f's close, or with the process.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// lock takes an exclusive lock on f, waiting for another holder (a start that looks at the file
// to remove it holds it for an instant).
func lock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
}
