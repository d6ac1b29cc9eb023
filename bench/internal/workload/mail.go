package workload

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Domain is the mail domain of the generated accounts.
const Domain = "dept.example"

// attachment is one document version carried by a message.
type attachment struct {
	doc     Doc
	version int
}

// msg is one generated message, written once and delivered to the
// mailboxes of its sender (Sent) and of its recipients (INBOX or a
// project folder).
type msg struct {
	id, inReplyTo string
	refs          []string
	from          string
	to            []string
	subject       string
	date          time.Time
	atts          []attachment
	folder        string // recipients' folder ("INBOX" or "Projects/<x>")
}

// MailStats counts what the mail tree holds.
type MailStats struct {
	Messages    int   // distinct messages
	Deliveries  int   // .eml files (a message lands in several mailboxes)
	Attachments int   // attachment parts over all deliveries (logos excluded)
	Bytes       int64 // size of the tree
}

// mailGen writes DIR/<account>/<mailbox>/<uid>.eml.
type mailGen struct {
	dir   string
	r     *rand.Rand
	next  map[string]int // account/mailbox -> next UID
	stats MailStats
	tmp   string
	// projects: how many numbered project folders (0: the four named).
	projects int
}

func (g *mailGen) deliver(m *msg, accounts map[string]bool) error {
	src := filepath.Join(g.tmp, fmt.Sprintf("m%d.eml", g.stats.Messages))
	f, err := os.Create(src)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = writeMessage(bw, m)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("workload: message %s: %w", m.id, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	g.stats.Messages++
	targets := map[string]string{}
	if accounts[m.from] {
		targets[m.from] = "Sent"
	}
	for _, to := range m.to {
		if accounts[to] {
			targets[to] = m.folder
		}
	}
	for _, acct := range sortedKeys(targets) {
		if err := g.place(src, acct, targets[acct], len(m.atts)); err != nil {
			return err
		}
	}
	return os.Remove(src)
}

func (g *mailGen) place(src, acct, box string, atts int) error {
	key := acct + "/" + box
	g.next[key]++
	dst := filepath.Join(g.dir, acct, filepath.FromSlash(box), fmt.Sprintf("%d.eml", g.next[key]))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err != nil {
		return err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return err
	}
	g.stats.Deliveries++
	g.stats.Attachments += atts
	g.stats.Bytes += fi.Size()
	return nil
}

func addr(user string) *mail.Address {
	return &mail.Address{Name: strings.ToUpper(user[:1]) + user[1:], Address: user + "@" + Domain}
}

// writeMessage writes m as multipart/mixed: an HTML body with the
// sender's signature logo referenced by cid:, then the attachments.
func writeMessage(w io.Writer, m *msg) error {
	var h mail.Header
	h.SetAddressList("From", []*mail.Address{addr(m.from)})
	var to []*mail.Address
	for _, t := range m.to {
		to = append(to, addr(t))
	}
	h.SetAddressList("To", to)
	h.SetSubject(m.subject)
	h.SetDate(m.date)
	h.SetMessageID(m.id)
	if m.inReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{m.inReplyTo})
		h.SetMsgIDList("References", m.refs)
	}
	h.Set("MIME-Version", "1.0")
	h.SetContentType("multipart/mixed", map[string]string{"boundary": boundary(m.id, "mixed")})
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return err
	}
	if err := writeBody(mw, m); err != nil {
		return err
	}
	for _, a := range m.atts {
		if err := writeAttachment(mw, a.doc.MediaType(), a.doc.Name(a.version), func(w io.Writer) error { return a.doc.WriteTo(w, a.version) }); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeBody(mw *message.Writer, m *msg) error {
	var rh message.Header
	rh.SetContentType("multipart/related", map[string]string{"type": "text/html", "boundary": boundary(m.id, "related")})
	rel, err := mw.CreatePart(rh)
	if err != nil {
		return err
	}
	var th message.Header
	th.SetContentType("text/html", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	tw, err := rel.CreatePart(th)
	if err != nil {
		return err
	}
	logo := "logo-" + m.from + "@" + Domain
	fmt.Fprintf(tw, "<html><body><p>Hello,</p><p>Please see the attached for %s.</p><p>Kind regards,<br>%s</p><img src=\"cid:%s\" alt=\"logo\"></body></html>\r\n",
		m.subject, addr(m.from).Name, logo)
	if err := tw.Close(); err != nil {
		return err
	}
	var ih message.Header
	ih.SetContentType("image/png", nil)
	ih.Set("Content-Transfer-Encoding", "base64")
	ih.Set("Content-ID", "<"+logo+">")
	ih.SetContentDisposition("inline", map[string]string{"filename": "image001.png"})
	iw, err := rel.CreatePart(ih)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(iw, NewRandom(seedOf(logo)), 6<<10); err != nil {
		return err
	}
	if err := iw.Close(); err != nil {
		return err
	}
	return rel.Close()
}

func writeAttachment(mw *message.Writer, mediaType, name string, body func(io.Writer) error) error {
	var ah message.Header
	ah.SetContentType(mediaType, map[string]string{"name": name})
	ah.Set("Content-Transfer-Encoding", "base64")
	ah.SetContentDisposition("attachment", map[string]string{"filename": name})
	aw, err := mw.CreatePart(ah)
	if err != nil {
		return err
	}
	if err := body(aw); err != nil {
		return err
	}
	return aw.Close()
}

// boundary is a fixed multipart boundary per message (go-message would
// pick a random one), so that generations are byte-identical.
func boundary(id, part string) string {
	return fmt.Sprintf("=_%016x_%s", seedOf(id+part), part)
}
