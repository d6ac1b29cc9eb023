//go:build !unix

package dedupe

// syncDir does nothing where a directory cannot be opened to be synced:
// NTFS journals directory entries itself.
func syncDir(string) error { return nil }
