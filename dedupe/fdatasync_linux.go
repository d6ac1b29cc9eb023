package dedupe

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync makes a file's data durable, skipping the metadata that the
// later rename and directory sync make durable anyway.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
