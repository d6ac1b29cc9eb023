//go:build !linux

package dedupe

import "os"

// fdatasync makes a file's data durable: File.Sync is F_FULLFSYNC on
// macOS and FlushFileBuffers on Windows.
func fdatasync(f *os.File) error { return f.Sync() }
