// Package imaptest starts IMAP servers on loopback seeded from a tree of
// .eml files, for tests, `syncd demo`, benchmarks and evaluation:
//
//	DIR/<account>/<mailbox path>/<uid>.eml
//
// The mailbox name is the path below the account directory joined with
// "/" ("Projects/Shared Services"). Messages are appended in UID order with
// their arrival as internal date (the topmost Received header's date, else
// the Date header); UID gaps are kept (placeholder messages are
// appended and expunged), so the server's UIDs equal the file names. All
// accounts share the password Password.
package imaptest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Password is the password of every account of a seeded server.
const Password = "syncd-imaptest"

// Server is a running seeded server.
type Server struct {
	Addr  string   // host:port, plain TCP (tls: none)
	Users []string // account names (usernames), sorted
	Stop  func() error
}

// Tree is a parsed mail tree: account -> mailbox -> messages by UID.
type Tree map[string]map[string][]Message

// Message is one .eml file.
type Message struct {
	UID  uint32
	Path string
}

// ReadTree lists DIR/<account>/<mailbox path>/<uid>.eml.
func ReadTree(dir string) (Tree, error) {
	t := Tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eml") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) < 3 {
			return fmt.Errorf("imaptest: %s: want <account>/<mailbox>/<uid>.eml", rel)
		}
		uid, err := strconv.ParseUint(strings.TrimSuffix(parts[len(parts)-1], ".eml"), 10, 32)
		if err != nil || uid == 0 {
			return fmt.Errorf("imaptest: %s: file name is not a UID", rel)
		}
		acct, mbox := parts[0], strings.Join(parts[1:len(parts)-1], "/")
		if t[acct] == nil {
			t[acct] = map[string][]Message{}
		}
		t[acct][mbox] = append(t[acct][mbox], Message{UID: uint32(uid), Path: p})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, boxes := range t {
		for _, msgs := range boxes {
			sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
		}
	}
	return t, nil
}

// Accounts returns the tree's account names, sorted.
func (t Tree) Accounts() []string {
	var out []string
	for a := range t {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Load appends the mailboxes of one account into a running server over
// IMAP (plain TCP), creating mailboxes as needed.
func Load(ctx context.Context, addr, user, pass string, boxes map[string][]Message) error {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return fmt.Errorf("imaptest: dial %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		return fmt.Errorf("imaptest: login %s: %w", user, err)
	}
	names := make([]string, 0, len(boxes))
	for n := range boxes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := loadMailbox(c, name, boxes[name]); err != nil {
			return fmt.Errorf("imaptest: %s %s: %w", user, name, err)
		}
	}
	return c.Logout().Wait()
}

func loadMailbox(c *imapclient.Client, name string, msgs []Message) error {
	if !strings.EqualFold(name, "INBOX") {
		if err := c.Create(name, nil).Wait(); err != nil {
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAlreadyExists {
				return fmt.Errorf("create: %w", err)
			}
		}
	}
	st, err := c.Status(name, &imap.StatusOptions{UIDNext: true}).Wait()
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	next := uint32(st.UIDNext)
	var fillers imap.UIDSet
	for _, m := range msgs {
		for next < m.UID {
			if err := appendFiller(c, name); err != nil {
				return err
			}
			fillers.AddNum(imap.UID(next))
			next++
		}
		if err := appendFile(c, name, m.Path); err != nil {
			return fmt.Errorf("append %s: %w", m.Path, err)
		}
		next++
	}
	if len(fillers) == 0 {
		return nil
	}
	if _, err := c.Select(name, nil).Wait(); err != nil {
		return err
	}
	flags := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(fillers, flags, nil).Close(); err != nil {
		return fmt.Errorf("mark placeholders: %w", err)
	}
	if err := c.Expunge().Close(); err != nil {
		return fmt.Errorf("expunge placeholders: %w", err)
	}
	return nil
}

func appendFiller(c *imapclient.Client, box string) error {
	msg := "Subject: placeholder\r\nMessage-ID: <placeholder@imaptest>\r\n\r\nplaceholder\r\n"
	cmd := c.Append(box, int64(len(msg)), nil)
	if _, err := io.WriteString(cmd, msg); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// arrival is when a delivering server would have stamped the message:
// the date of its topmost Received header (the last hop, on the server's
// clock), else its Date header, else def.
func arrival(h mail.Header, def time.Time) time.Time {
	if rs := h["Received"]; len(rs) > 0 {
		if i := strings.LastIndexByte(rs[0], ';'); i >= 0 {
			if d, err := mail.ParseDate(strings.TrimSpace(rs[0][i+1:])); err == nil {
				return d
			}
		}
	}
	if d, err := h.Date(); err == nil {
		return d
	}
	return def
}

// appendFile streams one .eml file with its arrival as internal date.
func appendFile(c *imapclient.Client, box, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	date := fi.ModTime()
	if m, err := mail.ReadMessage(bufio.NewReader(f)); err == nil {
		date = arrival(m.Header, date)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	cmd := c.Append(box, fi.Size(), &imap.AppendOptions{Time: date.Truncate(time.Second)})
	if _, err := io.Copy(cmd, f); err != nil {
		cmd.Close()
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err = cmd.Wait()
	return err
}
