package graphfake

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Manifest is the seed format: the `sharepoint/manifest.json` layout that
// the evaluation corpus generator writes, plus fixture extensions (inline
// version content, folders, packages, items without access, user drives).
type Manifest struct {
	Sites []ManifestSite `json:"sites"`
	Users []ManifestUser `json:"users,omitempty"`
}

// ManifestSite is one site with its libraries.
type ManifestSite struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	DisplayName string          `json:"displayName"`
	WebURL      string          `json:"webUrl"`
	Drives      []ManifestDrive `json:"drives"`
}

// ManifestUser is a OneDrive for Business drive (fixture extension).
type ManifestUser struct {
	User  string        `json:"user"`
	Drive ManifestDrive `json:"drive"`
}

// ManifestDrive is one library with its items.
type ManifestDrive struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	DriveType string         `json:"driveType"`
	Items     []ManifestItem `json:"items"`
}

type identitySet struct {
	User Identity `json:"user"`
}

// ManifestItem is a file (with versions newest first), or with the
// fixture extensions a folder or a package.
type ManifestItem struct {
	ID              string      `json:"id"`
	Name            string      `json:"name"`
	CreatedDateTime time.Time   `json:"createdDateTime"`
	CreatedBy       identitySet `json:"createdBy"`
	ParentReference struct {
		Path string `json:"path"`
	} `json:"parentReference"`
	File *struct {
		MimeType string `json:"mimeType"`
	} `json:"file,omitempty"`
	Folder  *struct{} `json:"folder,omitempty"`
	Package *struct {
		Type string `json:"type"`
	} `json:"package,omitempty"`
	NoAccess bool              `json:"noAccess,omitempty"`
	Versions []ManifestVersion `json:"versions"`
}

// ManifestVersion's bytes are content/<sha256> beside the manifest, or
// Content inline (fixture extension).
type ManifestVersion struct {
	ID                   string      `json:"id"`
	LastModifiedDateTime time.Time   `json:"lastModifiedDateTime"`
	LastModifiedBy       identitySet `json:"lastModifiedBy"`
	Size                 int64       `json:"size"`
	SHA256               string      `json:"sha256,omitempty"`
	Content              *string     `json:"content,omitempty"`
}

// NewFromManifest starts a fake seeded from dir/manifest.json (and
// dir/content/<sha256>); for a generated corpus pass CORPUS/sharepoint.
func NewFromManifest(dir string) (*Server, error) {
	s := New()
	if err := s.LoadManifest(dir); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// LoadManifest adds the sites, drives and items of dir/manifest.json.
func (s *Server) LoadManifest(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("graphfake: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("graphfake: %s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ms := range m.Sites {
		u, err := url.Parse(ms.WebURL)
		if err != nil || u.Host == "" {
			return fmt.Errorf("graphfake: site %s: bad webUrl %q", ms.ID, ms.WebURL)
		}
		st := s.addSiteLocked(&Site{ID: ms.ID, Name: ms.Name, DisplayName: ms.DisplayName, WebURL: ms.WebURL,
			Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")})
		for _, md := range ms.Drives {
			d, err := s.loadDriveLocked(dir, md, st.WebURL+"/"+md.Name)
			if err != nil {
				return err
			}
			d.SiteID = st.ID
			st.Drives = append(st.Drives, d.ID)
		}
	}
	for _, mu := range m.Users {
		d, err := s.loadDriveLocked(dir, mu.Drive, "https://contoso-my.sharepoint.com/personal/"+mu.User)
		if err != nil {
			return err
		}
		s.users[strings.ToLower(mu.User)] = d.ID
	}
	return nil
}

func (s *Server) loadDriveLocked(dir string, md ManifestDrive, web string) (*Drive, error) {
	typ := md.DriveType
	if typ == "" {
		typ = "documentLibrary"
	}
	d := s.addDriveLocked(md.ID, md.Name, typ, web)
	for _, mi := range md.Items {
		if err := s.loadItemLocked(dir, d, mi); err != nil {
			return nil, fmt.Errorf("graphfake: drive %s item %s (%s): %w", md.Name, mi.ID, mi.Name, err)
		}
	}
	return d, nil
}

func (s *Server) loadItemLocked(dir string, d *Drive, mi ManifestItem) error {
	folder := mi.ParentReference.Path
	if _, after, ok := strings.Cut(folder, "root:"); ok {
		folder = after
	}
	folder = strings.Trim(folder, "/")
	switch {
	case mi.Folder != nil:
		f := s.ensureFolderLocked(d, folder+"/"+mi.Name)
		if mi.ID != "" && f.ID != mi.ID {
			delete(d.items, f.ID)
			f.ID = mi.ID
			d.items[f.ID] = f
		}
		return nil
	case mi.Package != nil:
		parent := s.ensureFolderLocked(d, folder)
		d.add(&Item{ID: mi.ID, Name: mi.Name, ParentID: parent.ID, Package: mi.Package.Type, Created: mi.CreatedDateTime})
		return nil
	}
	if len(mi.Versions) == 0 {
		return fmt.Errorf("no versions")
	}
	it := s.newFileLocked(d, mi.ID, folder, mi.Name, mi.CreatedBy.User, mi.CreatedDateTime)
	it.NoAccess = mi.NoAccess
	if mi.File != nil && mi.File.MimeType != "" {
		it.MimeType = mi.File.MimeType
	}
	for i := len(mi.Versions) - 1; i >= 0; i-- {
		mv := mi.Versions[i]
		c, err := versionContent(dir, mv)
		if err != nil {
			return fmt.Errorf("version %s: %w", mv.ID, err)
		}
		it.Versions = append(it.Versions, &Version{ID: mv.ID, Modified: mv.LastModifiedDateTime, By: mv.LastModifiedBy.User, Content: c})
	}
	return nil
}

func versionContent(dir string, mv ManifestVersion) (Content, error) {
	if mv.Content != nil {
		return Bytes([]byte(*mv.Content)), nil
	}
	if mv.SHA256 == "" || strings.ContainsAny(mv.SHA256, `/\.`) {
		return nil, fmt.Errorf("neither content nor a valid sha256")
	}
	c, err := File(filepath.Join(dir, "content", mv.SHA256))
	if err != nil {
		return nil, err
	}
	if mv.Size != 0 && c.Size() != mv.Size {
		return nil, fmt.Errorf("content/%s has %d bytes, manifest says %d", mv.SHA256, c.Size(), mv.Size)
	}
	return c, nil
}
