package graphfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type obj = map[string]any

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, segs []string) {
	t := parse(segs)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch t.route {
	case RouteSite, RouteDrives:
		s.serveSite(w, t)
		return
	case RouteDrive:
		s.serveDrive(w, t)
		return
	case "":
		s.graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.Join(segs, "/")+"'.")
		return
	}
	d := s.drives[t.drive]
	if d == nil {
		s.graphError(w, http.StatusNotFound, "itemNotFound", "The drive cannot be found.")
		return
	}
	if t.route == RouteDelta {
		s.delta(w, r, d)
		return
	}
	if t.item == "" {
		t.item = d.RootID
	}
	it := d.items[t.item]
	if it == nil || it.Deleted {
		s.graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	s.serveItem(w, r, t, d, it)
}

func (s *Server) serveSite(w http.ResponseWriter, t target) {
	st := s.siteLocked(t.site)
	if st == nil {
		s.graphError(w, http.StatusNotFound, "itemNotFound", "Requested site could not be found")
		return
	}
	if t.route == RouteSite {
		writeJSON(w, http.StatusOK, s.siteJSON(st))
		return
	}
	list := []any{}
	for _, id := range st.Drives {
		list = append(list, driveJSON(s.drives[id]))
	}
	writeJSON(w, http.StatusOK, obj{"@odata.context": s.URL() + "/$metadata#drives", "value": list})
}

func (s *Server) serveDrive(w http.ResponseWriter, t target) {
	id := t.drive
	switch {
	case t.user != "":
		id = s.users[strings.ToLower(t.user)]
	case t.site != "":
		if st := s.siteLocked(t.site); st != nil && len(st.Drives) > 0 {
			id = st.Drives[0]
		}
	}
	d := s.drives[id]
	if d == nil {
		s.graphError(w, http.StatusNotFound, "itemNotFound", "The drive cannot be found.")
		return
	}
	writeJSON(w, http.StatusOK, driveJSON(d))
}

func (s *Server) serveItem(w http.ResponseWriter, r *http.Request, t target, d *Drive, it *Item) {
	if t.route != RouteItem && it.NoAccess {
		s.graphError(w, http.StatusForbidden, "accessDenied", "Access denied")
		return
	}
	switch t.route {
	case RouteItem:
		writeJSON(w, http.StatusOK, s.itemJSON(d, it))
	case RouteVersions:
		list := []any{}
		for i := len(it.Versions) - 1; i >= 0; i-- {
			list = append(list, s.versionJSON(d, it, it.Versions[i]))
		}
		writeJSON(w, http.StatusOK, obj{"@odata.context": s.URL() + "/$metadata#versions", "value": list})
	case RouteVersion:
		if v := it.version(t.version); v != nil {
			writeJSON(w, http.StatusOK, s.versionJSON(d, it, v))
			return
		}
		s.graphError(w, http.StatusNotFound, "itemNotFound", "The version could not be found.")
	case RouteContent, RouteVersionContent:
		s.redirectContent(w, r, t, d, it)
	}
}

func (s *Server) redirectContent(w http.ResponseWriter, _ *http.Request, t target, d *Drive, it *Item) {
	v := it.current()
	if t.route == RouteVersionContent {
		v = it.version(t.version)
		if v != nil && v == it.current() {
			// Graph: "Getting the content of the current version is not supported."
			s.graphError(w, http.StatusBadRequest, "invalidRequest", "Getting the content of the current version is not supported; use the item's content")
			return
		}
	}
	if v == nil || it.Folder || it.Package != "" {
		s.graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	tok := encodeToken(d.ID, it.ID, v.ID)
	w.Header().Set("Location", strings.TrimSuffix(s.URL(), "/v1.0")+"/download/"+tok+"?tempauth="+tok[:8])
	w.WriteHeader(http.StatusFound)
}

func (s *Server) siteJSON(st *Site) obj {
	o := obj{"id": st.ID, "name": st.Name, "displayName": st.DisplayName, "webUrl": st.WebURL,
		"siteCollection": obj{"hostname": st.Host}}
	if !st.Created.IsZero() {
		o["createdDateTime"] = st.Created.UTC().Format(time.RFC3339)
	}
	return s.quirk("site/"+st.ID, o)
}

func driveJSON(d *Drive) obj {
	return obj{"id": d.ID, "name": d.Name, "driveType": d.DriveType, "webUrl": d.WebURL}
}

func (s *Server) versionJSON(d *Drive, it *Item, v *Version) obj {
	return s.quirk("version/"+d.ID+"/"+it.ID+"/"+v.ID, obj{"id": v.ID, "lastModifiedDateTime": v.Modified.UTC().Format(time.RFC3339),
		"lastModifiedBy": obj{"user": v.By}, "size": v.Content.Size()})
}

// itemJSON renders a driveItem as delta returns it (no parentReference.path).
func (s *Server) itemJSON(d *Drive, it *Item) obj {
	pref := obj{"driveId": d.ID, "driveType": d.DriveType}
	if d.SiteID != "" {
		pref["siteId"] = d.SiteID
	}
	if it.ParentID != "" {
		pref["id"] = it.ParentID
	}
	o := obj{"id": it.ID, "parentReference": pref, "eTag": fmt.Sprintf("\"{%s},%d\"", it.ID, it.seq)}
	if it.Deleted {
		o["deleted"] = obj{"state": "deleted"}
		return o
	}
	o["name"] = it.Name
	o["createdDateTime"] = it.Created.UTC().Format(time.RFC3339)
	o["createdBy"] = obj{"user": it.CreatedBy}
	o["webUrl"] = strings.TrimSuffix(d.WebURL+"/"+d.pathOf(it)+"/"+it.Name, "/")
	switch {
	case it.Root:
		o["root"] = obj{}
		o["folder"] = obj{"childCount": 0}
	case it.Folder:
		o["folder"] = obj{"childCount": 0}
	case it.Package != "":
		o["package"] = obj{"type": it.Package}
	}
	if v := it.current(); v != nil {
		o["size"] = v.Content.Size()
		o["lastModifiedDateTime"] = v.Modified.UTC().Format(time.RFC3339)
		o["lastModifiedBy"] = obj{"user": v.By}
		file := obj{"mimeType": it.MimeType}
		if q, _, err := v.hashes(); err == nil {
			file["hashes"] = obj{"quickXorHash": q}
		}
		o["file"] = file
	} else {
		o["lastModifiedDateTime"] = it.Created.UTC().Format(time.RFC3339)
		o["size"] = 0
	}
	return s.quirk("item/"+d.ID+"/"+it.ID, o)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// graphError writes Graph's error body.
func (s *Server) graphError(w http.ResponseWriter, status int, code, msg string) {
	s.graphErrorInner(w, status, code, msg, nil)
}

func (s *Server) graphErrorInner(w http.ResponseWriter, status int, code, msg string, inner obj) {
	if inner == nil {
		inner = obj{}
	}
	inner["date"] = time.Now().UTC().Format(time.RFC3339)
	inner["request-id"] = fmt.Sprintf("%08x-0000-0000-0000-000000000000", time.Now().UnixNano()&0xffffffff)
	writeJSON(w, status, obj{"error": obj{"code": code, "message": msg, "innerError": inner}})
}
