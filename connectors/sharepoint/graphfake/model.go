package graphfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rclone/rclone/backend/onedrive/quickxorhash"
)

// Identity is a Graph identitySet's user.
type Identity struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Email       string `json:"email,omitempty"`
}

// Version is one stored version of a file.
type Version struct {
	ID       string
	Modified time.Time
	By       Identity
	Content  Content
	qxh, sha string // computed lazily, base64 / hex
}

// Item is a driveItem: a file, a folder, a package, or the root.
type Item struct {
	ID        string
	Name      string
	ParentID  string
	Folder    bool
	Root      bool
	Package   string // "oneNote" for notebooks
	NoAccess  bool   // content and versions answer 403
	Deleted   bool
	MimeType  string
	Created   time.Time
	CreatedBy Identity
	Versions  []*Version // oldest first
	seq       int64      // drive change sequence of the last change
	order     int64      // creation order
}

// Drive is a document library or a user's OneDrive.
type Drive struct {
	ID, Name, DriveType, WebURL string
	SiteID                      string
	RootID                      string
	items                       map[string]*Item
	seq                         int64 // last change sequence
	floor                       int64 // delta tokens below this answer 410
	nextOrder                   int64
}

// Site is a SharePoint site.
type Site struct {
	ID, Name, DisplayName, WebURL string
	Host, Path                    string // "contoso.sharepoint.com", "/sites/finance"
	Drives                        []string
	Created                       time.Time
}

func (d *Drive) touch(it *Item) {
	d.seq++
	it.seq = d.seq
}

func (d *Drive) add(it *Item) {
	d.nextOrder++
	it.order = d.nextOrder
	d.items[it.ID] = it
	d.touch(it)
}

// sorted returns the drive's items in creation order.
func (d *Drive) sorted() []*Item {
	out := make([]*Item, 0, len(d.items))
	for _, it := range d.items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

func (it *Item) current() *Version {
	if len(it.Versions) == 0 {
		return nil
	}
	return it.Versions[len(it.Versions)-1]
}

func (it *Item) version(id string) *Version {
	for _, v := range it.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// hashes computes (once) the version's quickXorHash and SHA-256 by
// streaming its content.
func (v *Version) hashes() (qxh, sha string, err error) {
	if v.qxh != "" {
		return v.qxh, v.sha, nil
	}
	r, err := v.Content.Open()
	if err != nil {
		return "", "", err
	}
	defer r.Close()
	q, s := quickxorhash.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(q, s), r); err != nil {
		return "", "", fmt.Errorf("graphfake: hash version %s: %w", v.ID, err)
	}
	v.qxh = base64.StdEncoding.EncodeToString(q.Sum(nil))
	v.sha = hex.EncodeToString(s.Sum(nil))
	return v.qxh, v.sha, nil
}

// pathOf returns the folder path of an item below the root ("A/B").
func (d *Drive) pathOf(it *Item) string {
	var parts []string
	for p := d.items[it.ParentID]; p != nil && !p.Root; p = d.items[p.ParentID] {
		parts = append(parts, p.Name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// child finds a live child of parent by name.
func (d *Drive) child(parent, name string) *Item {
	for _, it := range d.items {
		if it.ParentID == parent && !it.Deleted && strings.EqualFold(it.Name, name) {
			return it
		}
	}
	return nil
}
