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
