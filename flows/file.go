package flows

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// FileError is a file that ReadFile refuses: not a regular file, or too large.
type FileError struct {
	File string
	Msg  string // "not a regular file but a named pipe", "file is 5000000 bytes, more than the limit of 4194304"
}

func (e *FileError) Error() string { return e.File + ": " + e.Msg }

// ReadFile reads file, a regular file (a symbolic link to one is followed) of at most max bytes.
// Anything else is refused with a *FileError before it is read: a named pipe would block until
// a writer comes, and a device such as /dev/zero never ends. The kind is checked before opening,
// and again on the opened file, which is opened without blocking so that a file swapped for a
// pipe in between cannot hang the read; the read stops past max whatever the size said.
func ReadFile(file string, max int64) ([]byte, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if err := checkFile(file, st, max); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkFile(file, st, max); err != nil {
		return nil, err
	}
	src, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(src)) > max {
		return nil, &FileError{File: file, Msg: fmt.Sprintf("file is larger than the limit of %d bytes", max)}
	}
	return src, nil
}

// checkFile refuses what is not a regular file of at most max bytes.
func checkFile(file string, st fs.FileInfo, max int64) error {
	if m := st.Mode(); !m.IsRegular() {
		return &FileError{File: file, Msg: "not a regular file but " + FileKind(m)}
	}
	if st.Size() > max {
		return &FileError{File: file, Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d", st.Size(), max)}
	}
	return nil
}

// FileKind names what a file of mode m is, for an error that refuses it: "a folder", "a named
// pipe", "a device", "a socket".
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// readFile reads an app file: ReadFile with MaxFileSize, its refusals as positioned errors.
func readFile(file string) ([]byte, error) {
	src, err := ReadFile(file, MaxFileSize)
	var fe *FileError
	switch {
	case errors.As(err, &fe):
		return nil, &Error{Pos: Pos{File: file}, Msg: fe.Msg}
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Pos: Pos{File: file}, Msg: "no such file: an app is a folder with app.yaml", Err: err}
	}
	return src, err
}
