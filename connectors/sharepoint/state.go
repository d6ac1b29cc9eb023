package sharepoint

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// cursorState is the JSON cursor: per drive, the delta link to resume
// from and what is known of each item (delta returns no paths and no
// names for deleted items, so parent and name are tracked by id).
type cursorState struct {
	V      int                    `json:"v"`
	Drives map[string]*driveState `json:"drives"`
}

type driveState struct {
	Name string `json:"name"`
	Site string `json:"site,omitempty"`
	// Link is the nextLink of an enumeration in progress or the deltaLink
	// of the last complete one; "" starts from the beginning.
	Link string `json:"link,omitempty"`
	// Resync is the generation of a 410 re-enumeration in progress: items
	// not seen in it (gen != Resync) were deleted.
	Resync int                   `json:"resync,omitempty"`
	Items  map[string]*itemState `json:"items"`
	// Pending items whose versions could not be listed; retried next scan.
	Pending []string `json:"pending,omitempty"`
}

type itemState struct {
	Parent string   `json:"p,omitempty"`
	Name   string   `json:"n,omitempty"`
	Folder bool     `json:"f,omitempty"`
	Root   bool     `json:"r,omitempty"`
	Pkg    bool     `json:"pk,omitempty"` // a package (OneNote notebook)
	Key    string   `json:"k,omitempty"`  // content key of the last listed state
	Seen   []string `json:"v,omitempty"`  // version ids already emitted
	Gen    int      `json:"g,omitempty"`
	Cur    int      `json:"c,omitempty"` // version index of the current version
	Skip   string   `json:"s,omitempty"` // skip reason last reported
}

func decodeCursor(b []byte) (*cursorState, error) {
	st := &cursorState{V: 1, Drives: map[string]*driveState{}}
	if len(b) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("bad cursor: %w", err)
	}
	if st.Drives == nil {
		st.Drives = map[string]*driveState{}
	}
	for _, d := range st.Drives {
		if d.Items == nil {
			d.Items = map[string]*itemState{}
		}
	}
	return st, nil
}

func (st *cursorState) encode() []byte {
	b, _ := json.Marshal(st)
	return b
}

// path returns the folder path of an item inside its library, and
// whether an ancestor is a package (a file inside a OneNote notebook).
func (d *driveState) path(parent string) string {
	p, _ := d.pathPkg(parent)
	return p
}

func (d *driveState) pathPkg(parent string) (string, bool) {
	var parts []string
	pkg := false
	for i := 0; parent != "" && i < 64; i++ {
		p := d.Items[parent]
		if p == nil || p.Root {
			break
		}
		pkg = pkg || p.Pkg
		parts = append(parts, p.Name)
		parent = p.Parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/"), pkg
}

// fileInfo is what the connector uses of a driveItem.
type fileInfo struct {
	ID, Name, Parent string
	Deleted, Root    bool
	Folder           bool
	Package          string
	File             bool
	Size             int64
	Modified         time.Time
	Author           string
	Mime             string
	QuickXor, SHA256 string
	BadTimes         string // timestamps Graph sent that are not times (dropped)
}

func toFileInfo(di models.DriveItemable) fileInfo {
	f := fileInfo{ID: deref(di.GetId()), Name: deref(di.GetName()), Size: deref(di.GetSize()),
		Deleted: di.GetDeleted() != nil, Root: di.GetRoot() != nil, Folder: di.GetFolder() != nil,
		Modified: deref(di.GetLastModifiedDateTime()), Author: identity(di.GetLastModifiedBy()),
		BadTimes: invalidTimes(di)}
	if p := di.GetParentReference(); p != nil {
		f.Parent = deref(p.GetId())
	}
	if p := di.GetPackageEscaped(); p != nil {
		f.Package = deref(p.GetTypeEscaped())
		if f.Package == "" {
			f.Package = "package"
		}
	}
	if fl := di.GetFile(); fl != nil {
		f.File = true
		f.Mime = deref(fl.GetMimeType())
		if h := fl.GetHashes(); h != nil {
			f.QuickXor = deref(h.GetQuickXorHash())
			if s := deref(h.GetSha256Hash()); s != "" {
				if _, err := hex.DecodeString(s); err == nil {
					f.SHA256 = strings.ToLower(s)
				}
			}
		}
	}
	return f
}

// key identifies the content state of a file: when it is unchanged in a
// delta entry (a rename or move), the versions are not listed again.
func (f fileInfo) key() string {
	return fmt.Sprintf("%d|%s|%s", f.Size, f.Modified.UTC().Format(time.RFC3339Nano), f.QuickXor)
}

// identity returns a user's email, else their display name.
func identity(s models.IdentitySetable) string {
	if s == nil || s.GetUser() == nil {
		return ""
	}
	u := s.GetUser()
	if ad := u.GetAdditionalData(); ad != nil {
		if e, ok := ad["email"].(*string); ok && e != nil && *e != "" {
			return *e
		}
	}
	return deref(u.GetDisplayName())
}
