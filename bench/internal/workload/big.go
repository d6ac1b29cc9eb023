package workload

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// BigFile writes dir/<name> holding size incompressible bytes, streamed.
func BigFile(dir, name string, size int64) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	_, err = io.CopyN(f, NewRandom(seedOf(name)), size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("workload: %s: %w", p, err)
	}
	return p, nil
}

// BigMail writes a mail tree dir/<account>/INBOX/1.eml: one message with
// one attachment of size bytes (base64 on the wire), streamed.
func BigMail(dir, account, name string, size int64) (string, error) {
	p := filepath.Join(dir, account, "INBOX", "1.eml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = writeBigMessage(bw, account, name, size)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("workload: %s: %w", p, err)
	}
	return p, nil
}

func writeBigMessage(w io.Writer, account, name string, size int64) error {
	var h mail.Header
	h.SetAddressList("From", []*mail.Address{addr("partner")})
	h.SetAddressList("To", []*mail.Address{addr(account)})
	h.SetSubject("Survey footage: " + name)
	h.SetDate(epoch)
	h.SetMessageID("big." + account + "@" + Domain)
	h.Set("MIME-Version", "1.0")
	h.SetContentType("multipart/mixed", map[string]string{"boundary": boundary(name, "mixed")})
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return err
	}
	var th message.Header
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	tw, err := mw.CreatePart(th)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "The full recording is attached (%d bytes). Sent %s.\r\n", size, epoch.Format(time.RFC1123Z))
	if err := tw.Close(); err != nil {
		return err
	}
	err = writeAttachment(mw, "video/mp4", name, func(w io.Writer) error {
		_, err := io.CopyN(w, NewRandom(seedOf(name)), size)
		return err
	})
	if err != nil {
		return err
	}
	return mw.Close()
}
