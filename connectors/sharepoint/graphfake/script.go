package graphfake

import (
	"errors"
	"fmt"
	"mime"
	"path"
	"sort"
	"strings"
	"time"
)

// Errors returned by the scripting methods.
var (
	ErrNoDrive = errors.New("graphfake: no such drive")
	ErrNoItem  = errors.New("graphfake: no such item")
	ErrNoSite  = errors.New("graphfake: no such site")
)

func (s *Server) newID(prefix string) string {
	s.ids++
	return fmt.Sprintf("%s%030X", prefix, s.ids)
}

// AddSite adds a site reachable by id and by host:/path
// (path like "/sites/finance").
func (s *Server) AddSite(host, sitePath, displayName string) *Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids += 2
	id := fmt.Sprintf("%s,%s,%s", host, guid(fmt.Sprintf("%032x", s.ids-1)), guid(fmt.Sprintf("%032x", s.ids)))
	return s.addSiteLocked(&Site{ID: id, Host: host, Path: sitePath, DisplayName: displayName, Created: s.now()})
}

func (s *Server) addSiteLocked(st *Site) *Site {
	if st.Name == "" {
		st.Name = path.Base(st.Path)
	}
	if st.WebURL == "" {
		st.WebURL = "https://" + st.Host + st.Path
	}
	s.sites = append(s.sites, st)
	return st
}

func guid(h string) string {
	h = strings.ToLower(h[len(h)-32:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// AddDrive adds a document library to a site and returns its id.
func (s *Server) AddDrive(siteID, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.siteLocked(siteID)
	if st == nil {
		return "", fmt.Errorf("%w: %s", ErrNoSite, siteID)
	}
	d := s.addDriveLocked(s.newID("b!"), name, "documentLibrary", st.WebURL+"/"+name)
	d.SiteID = st.ID
	st.Drives = append(st.Drives, d.ID)
	return d.ID, nil
}

// AddUserDrive adds a OneDrive for Business drive served at
// /users/{user}/drive and returns its id.
func (s *Server) AddUserDrive(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.addDriveLocked(s.newID("b!"), "OneDrive", "business", "https://contoso-my.sharepoint.com/personal/"+user)
	s.users[strings.ToLower(user)] = d.ID
	return d.ID
}

func (s *Server) addDriveLocked(id, name, typ, web string) *Drive {
	d := &Drive{ID: id, Name: name, DriveType: typ, WebURL: web, items: map[string]*Item{}}
	root := &Item{ID: s.newID("01"), Name: "root", Root: true, Folder: true, Created: s.now()}
	d.RootID = root.ID
	d.add(root)
	s.drives[id] = d
	s.driveOrder = append(s.driveOrder, id)
	return d
}

func (s *Server) driveLocked(id string) (*Drive, error) {
	d := s.drives[id]
	if d == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoDrive, id)
	}
	return d, nil
}

func (s *Server) itemLocked(driveID, itemID string) (*Drive, *Item, error) {
	d, err := s.driveLocked(driveID)
	if err != nil {
		return nil, nil, err
	}
	it := d.items[itemID]
	if it == nil || it.Deleted {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoItem, itemID)
	}
	return d, it, nil
}

// EnsureFolder creates the folders of path ("A/B") as needed and returns
// the id of the last one (the root's id for "").
func (s *Server) EnsureFolder(driveID, folder string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.driveLocked(driveID)
	if err != nil {
		return "", err
	}
	return s.ensureFolderLocked(d, folder).ID, nil
}

func (s *Server) ensureFolderLocked(d *Drive, folder string) *Item {
	cur := d.items[d.RootID]
	for _, part := range strings.Split(strings.Trim(folder, "/"), "/") {
		if part == "" {
			continue
		}
		next := d.child(cur.ID, part)
		if next == nil {
			next = &Item{ID: s.newID("01"), Name: part, ParentID: cur.ID, Folder: true, Created: s.now()}
			d.add(next)
		}
		cur = next
	}
	return cur
}

// AddFile creates a file with one version in folder and returns its id.
func (s *Server) AddFile(driveID, folder, name string, c Content, by Identity, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.driveLocked(driveID)
	if err != nil {
		return "", err
	}
	it := s.newFileLocked(d, s.newID("01"), folder, name, by, at)
	it.Versions = []*Version{{ID: "1.0", Modified: at, By: by, Content: c}}
	return it.ID, nil
}

func (s *Server) newFileLocked(d *Drive, id, folder, name string, by Identity, at time.Time) *Item {
	parent := s.ensureFolderLocked(d, folder)
	it := &Item{ID: id, Name: name, ParentID: parent.ID, Created: at, CreatedBy: by,
		MimeType: mime.TypeByExtension(path.Ext(name))}
	if it.MimeType == "" {
		it.MimeType = "application/octet-stream"
	}
	d.add(it)
	return it
}

// AddPackage creates a OneNote notebook (a package item) in folder.
func (s *Server) AddPackage(driveID, folder, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.driveLocked(driveID)
	if err != nil {
		return "", err
	}
	parent := s.ensureFolderLocked(d, folder)
	it := &Item{ID: s.newID("01"), Name: name, ParentID: parent.ID, Package: "oneNote", Created: s.now()}
	d.add(it)
	return it.ID, nil
}

// AddVersion adds a new current version to a file and returns its id
// ("N.0").
func (s *Server) AddVersion(driveID, itemID string, c Content, by Identity, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, it, err := s.itemLocked(driveID, itemID)
	if err != nil {
		return "", err
	}
	v := &Version{ID: fmt.Sprintf("%d.0", len(it.Versions)+1), Modified: at, By: by, Content: c}
	it.Versions = append(it.Versions, v)
	d.touch(it)
	return v.ID, nil
}

// Rename changes an item's name (no new version).
func (s *Server) Rename(driveID, itemID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, it, err := s.itemLocked(driveID, itemID)
	if err != nil {
		return err
	}
	it.Name = name
	d.touch(it)
	return nil
}

// Move puts an item into folder (created as needed).
func (s *Server) Move(driveID, itemID, folder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, it, err := s.itemLocked(driveID, itemID)
	if err != nil {
		return err
	}
	it.ParentID = s.ensureFolderLocked(d, folder).ID
	d.touch(it)
	return nil
}

// Delete removes an item (and a folder's descendants); delta reports it
// as deleted.
func (s *Server) Delete(driveID, itemID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, it, err := s.itemLocked(driveID, itemID)
	if err != nil {
		return err
	}
	s.deleteLocked(d, it)
	return nil
}

func (s *Server) deleteLocked(d *Drive, it *Item) {
	for _, c := range d.sorted() {
		if c.ParentID == it.ID && !c.Deleted {
			s.deleteLocked(d, c)
		}
	}
	it.Deleted = true
	d.touch(it)
}

// SetNoAccess makes an item's content and versions answer 403.
func (s *Server) SetNoAccess(driveID, itemID string, denied bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, it, err := s.itemLocked(driveID, itemID)
	if err != nil {
		return err
	}
	it.NoAccess = denied
	return nil
}

// ExpireDeltaTokens makes every delta token issued so far for the drive
// answer 410 Gone (resyncRequired) with a Location to re-enumerate.
func (s *Server) ExpireDeltaTokens(driveID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.driveLocked(driveID)
	if err != nil {
		return err
	}
	d.floor = d.seq + 1
	return nil
}

// ItemID returns the id of the live item at "folder/name" in a drive.
func (s *Server) ItemID(driveID, itemPath string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.drives[driveID]
	if d == nil {
		return "", false
	}
	cur := d.items[d.RootID]
	for _, part := range strings.Split(strings.Trim(itemPath, "/"), "/") {
		if cur = d.child(cur.ID, part); cur == nil {
			return "", false
		}
	}
	return cur.ID, true
}

// Sites returns the ids of all sites; DriveIDs the ids of all drives, in
// creation order.
func (s *Server) Sites() []*Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Site, len(s.sites))
	for i, st := range s.sites {
		c := *st
		out[i] = &c
	}
	return out
}

// DriveIDs returns the ids of all drives in creation order.
func (s *Server) DriveIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.driveOrder...)
}

func (s *Server) siteLocked(id string) *Site {
	for _, st := range s.sites {
		if st.ID == id || strings.EqualFold(st.Host+":"+st.Path, strings.TrimSuffix(id, ":")) {
			return st
		}
	}
	return nil
}

// Key is the site's "host:/path" form, as the connector's site option takes it.
func (st *Site) Key() string { return st.Host + ":" + st.Path }

// SourceOptions returns connector options reaching everything the fake
// serves: graph_url, sites (host:/path) and user_drives. Add a token
// reference (access_token_env naming a variable set to any non-empty
// value; the fake accepts any bearer token unless Token is set).
func (s *Server) SourceOptions() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	sites := []string{}
	for _, st := range s.sites {
		sites = append(sites, st.Key())
	}
	users := []string{}
	for u := range s.users {
		users = append(users, u)
	}
	sort.Strings(users)
	out := map[string]any{"graph_url": s.URL(), "sites": sites}
	if len(users) > 0 {
		out["user_drives"] = users
	}
	return out
}
