package share

// Only the backends syncd supports are linked in (not backend/all, which
// pulls every cloud SDK). Keep in step with `supported` in remote.go.
import (
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/s3"
	_ "github.com/rclone/rclone/backend/sftp"
	_ "github.com/rclone/rclone/backend/smb"
	_ "github.com/rclone/rclone/backend/webdav"
)
