package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/pkg/sftp"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/fserrors"
	"github.com/syncd/syncd/connectors"
)

// kind classifies a backend error by type.
func kind(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	case errors.Is(err, fs.ErrorObjectNotFound), errors.Is(err, fs.ErrorDirNotFound),
		errors.Is(err, os.ErrNotExist):
		return connectors.ErrNotFound
	case errors.Is(err, os.ErrPermission), errors.Is(err, fs.ErrorPermissionDenied):
		return connectors.ErrPermission
	}
	return nil
}

// retryable reports errors that a later run may not see: a dropped or
// refused connection, a timeout.
func retryable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, net.ErrClosed), errors.Is(err, sftp.ErrSSHFxConnectionLost),
		fserrors.IsRetryError(err), fserrors.ShouldRetry(err):
		return true
	}
	return false
}

// wrap names the source, the operation and the item; it adds the
// connectors sentinel for the error's kind and marks transient errors
// Retryable.
func (s *Source) wrap(op, subject string, err error) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("share %s: %s", s.name, op)
	if subject != "" {
		what += fmt.Sprintf(" %q", subject)
	}
	if k := kind(err); k != nil && !errors.Is(err, k) {
		return fmt.Errorf("%s: %w: %w", what, k, err)
	}
	out := fmt.Errorf("%s: %w", what, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return out
	}
	if kind(err) == nil && retryable(err) {
		return connectors.Retryable{Err: out}
	}
	return out
}
