package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/engine/history"
)

// loader reads a gen_corpus.py directory the way the connectors would.
type loader struct {
	dir       string
	sightings []history.Sighting
	blobs     map[string][]byte
}

func (l *loader) add(s history.Sighting, data []byte) {
	sum := sha256.Sum256(data)
	s.Blob = hex.EncodeToString(sum[:])
	s.Size = int64(len(data))
	s.ID = int64(len(l.sightings) + 1)
	s.Workspace = "default"
	if _, ok := l.blobs[s.Blob]; !ok {
		l.blobs[s.Blob] = data
	}
	l.sightings = append(l.sightings, s)
}

func (l *loader) loadMail() error {
	root := filepath.Join(l.dir, "mail")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".eml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		uid, _ := strconv.Atoi(strings.TrimSuffix(parts[len(parts)-1], ".eml"))
		lin := connectors.Lineage{Kind: "mail", MailLineage: connectors.MailLineage{Account: parts[0],
			Mailbox: strings.Join(parts[1:len(parts)-1], "/"), UID: uint32(uid), UIDValidity: 1}}
		if err := l.loadMessage(p, lin); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func (l *loader) loadMessage(p string, lin connectors.Lineage) error {
	raw, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		return err
	}
	h := mail.Header{Header: e.Header}
	lin.MessageID, _ = h.MessageID()
	lin.InReplyTo, _ = h.MsgIDList("In-Reply-To")
	lin.References, _ = h.MsgIDList("References")
	lin.Subject, _ = h.Subject()
	lin.Date, _ = h.Date()
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		lin.From = strings.ToLower(from[0].Address)
	}
	lin.MessageID = "<" + lin.MessageID + ">"
	return l.walk(e, lin, "")
}

func (l *loader) walk(e *message.Entity, lin connectors.Lineage, part string) error {
	if mr := e.MultipartReader(); mr != nil {
		for i := 1; ; i++ {
			child, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) {
				return err
			}
			if err := l.walk(child, lin, joinPart(part, i)); err != nil {
				return err
			}
		}
	}
	mt, _, _ := e.Header.ContentType()
	ah := mail.AttachmentHeader{Header: e.Header}
	name, _ := ah.Filename()
	disp, _, _ := e.Header.ContentDisposition()
	if mt == "message/rfc822" {
		inner, err := message.Read(e.Body)
		if err != nil && !message.IsUnknownCharset(err) {
			return err
		}
		ih := mail.Header{Header: inner.Header}
		id, _ := ih.MessageID()
		lin.InnerMessageIDs = append(append([]string{}, lin.InnerMessageIDs...), id)
		lin.InnerSubject, _ = ih.Subject()
		return l.walk(inner, lin, part)
	}
	if name == "" && !strings.EqualFold(disp, "attachment") {
		return nil
	}
	if noise(mt, name, disp, e.Header.Get("Content-ID")) {
		return nil
	}
	data, err := io.ReadAll(e.Body)
	if err != nil {
		return err
	}
	lin.Part = part
	l.add(history.Sighting{Source: "mail", Kind: "mail", Name: name, Path: lin.Mailbox, Time: lin.Date,
		Author: lin.From, Lineage: lin}, data)
	return nil
}

func joinPart(p string, i int) string {
	if p == "" {
		return strconv.Itoa(i)
	}
	return p + "." + strconv.Itoa(i)
}

// noise mirrors what the connectors report as Skip items.
func noise(mt, name, disp, cid string) bool {
	ln := strings.ToLower(name)
	switch {
	case mt == "text/calendar" || mt == "application/ics" || strings.HasSuffix(ln, ".ics"):
		return true
	case strings.HasPrefix(mt, "image/") && cid != "" && strings.EqualFold(disp, "inline"):
		return true
	}
	return false
}

func (l *loader) loadShare() error {
	root := filepath.Join(l.dir, "share")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		dir, name := filepath.Dir(rel), filepath.Base(rel)
		if dir == "." {
			dir = ""
		}
		if strings.HasPrefix(name, "~$") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		l.add(history.Sighting{Source: "share", Kind: "share", Name: name, Path: dir, Time: st.ModTime().UTC(),
			Lineage: connectors.Lineage{Kind: "share"}}, data)
	}
	return nil
}

type spManifest struct {
	Sites []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Drives []struct {
			ID    string `json:"id"`
			Name  string `json:"name"`
			Items []struct {
				ID              string `json:"id"`
				Name            string `json:"name"`
				ParentReference struct {
					Path string `json:"path"`
				} `json:"parentReference"`
				Versions []struct {
					ID       string    `json:"id"`
					Modified time.Time `json:"lastModifiedDateTime"`
					By       struct {
						User struct {
							Email string `json:"email"`
						} `json:"user"`
					} `json:"lastModifiedBy"`
					SHA256 string `json:"sha256"`
				} `json:"versions"`
			} `json:"items"`
		} `json:"drives"`
	} `json:"sites"`
}

func (l *loader) loadSharePoint() error {
	raw, err := os.ReadFile(filepath.Join(l.dir, "sharepoint", "manifest.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var m spManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for _, site := range m.Sites {
		for _, drive := range site.Drives {
			for _, it := range drive.Items {
				folder := it.ParentReference.Path
				if i := strings.Index(folder, "root:"); i >= 0 {
					folder = strings.TrimPrefix(folder[i+5:], "/")
				}
				n := len(it.Versions)
				for i := n - 1; i >= 0; i-- { // manifest lists newest first
					v := it.Versions[i]
					data, err := os.ReadFile(filepath.Join(l.dir, "sharepoint", "content", v.SHA256))
					if err != nil {
						return err
					}
					l.add(history.Sighting{Source: "sharepoint", Kind: "sharepoint", Name: it.Name,
						Path: site.Name + "/" + drive.Name + "/" + folder, Time: v.Modified.UTC(),
						Author: strings.ToLower(v.By.User.Email), Lineage: connectors.Lineage{Kind: "sharepoint",
							SharePointLineage: connectors.SharePointLineage{Site: site.ID, Drive: drive.ID, DriveName: drive.Name,
								ItemID: it.ID, VersionID: v.ID, VersionIndex: n - i, Current: i == 0}}}, data)
				}
			}
		}
	}
	return nil
}
