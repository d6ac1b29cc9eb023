package graphfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// deltaPos is what a delta token encodes: changes after seq from, in an
// enumeration that started at seq start, resuming at offset.
type deltaPos struct{ from, start, offset int64 }

func (s *Server) delta(w http.ResponseWriter, r *http.Request, d *Drive) {
	tok := r.URL.Query().Get("token")
	pos := deltaPos{start: d.seq}
	switch {
	case tok == "":
	case tok == "latest":
		writeJSON(w, http.StatusOK, obj{"value": []any{}, "@odata.deltaLink": s.deltaLink(d, d.seq)})
		return
	case strings.HasPrefix(tok, "n."):
		if _, err := fmt.Sscanf(tok, "n.%d.%d.%d", &pos.from, &pos.start, &pos.offset); err != nil {
			s.graphError(w, http.StatusBadRequest, "invalidRequest", "Invalid token")
			return
		}
	case strings.HasPrefix(tok, "d."):
		if _, err := fmt.Sscanf(tok, "d.%d", &pos.from); err != nil {
			s.graphError(w, http.StatusBadRequest, "invalidRequest", "Invalid token")
			return
		}
	default:
		s.graphError(w, http.StatusBadRequest, "invalidRequest", "Invalid token")
		return
	}
	if pos.from > 0 && pos.from < d.floor {
		s.resync(w, d)
		return
	}
	s.deltaPage(w, d, pos)
}

func (s *Server) deltaPage(w http.ResponseWriter, d *Drive, pos deltaPos) {
	var list []*Item
	for _, it := range d.sorted() {
		if it.seq <= pos.from || (pos.from == 0 && it.Deleted && it.seq <= pos.start) {
			continue
		}
		list = append(list, it)
	}
	if pos.offset > int64(len(list)) {
		pos.offset = int64(len(list))
	}
	end := pos.offset + int64(s.pageSize())
	if end > int64(len(list)) {
		end = int64(len(list))
	}
	value := make([]any, 0, end-pos.offset)
	for _, it := range list[pos.offset:end] {
		value = append(value, s.itemJSON(d, it))
	}
	body := obj{"@odata.context": s.URL() + "/$metadata#Collection(driveItem)", "value": value}
	if end < int64(len(list)) {
		body["@odata.nextLink"] = fmt.Sprintf("%s/drives/%s/items/%s/delta()?token=n.%d.%d.%d",
			s.URL(), d.ID, d.RootID, pos.from, pos.start, end)
	} else {
		body["@odata.deltaLink"] = s.deltaLink(d, pos.start)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) pageSize() int {
	if s.PageSize <= 0 {
		return 200
	}
	return s.PageSize
}

func (s *Server) deltaLink(d *Drive, seq int64) string {
	return fmt.Sprintf("%s/drives/%s/root/delta?token=d.%d", s.URL(), d.ID, seq)
}

// resync answers 410 Gone with a Location that restarts enumeration.
func (s *Server) resync(w http.ResponseWriter, d *Drive) {
	w.Header().Set("Location", fmt.Sprintf("%s/drives/%s/items/%s/delta()?token=n.0.%d.0", s.URL(), d.ID, d.RootID, d.seq))
	s.graphErrorInner(w, http.StatusGone, "resyncRequired", "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd.",
		obj{"code": "resyncChangesApplyDifferences"})
}

func encodeToken(drive, item, version string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(drive + "|" + item + "|" + version))
}

func decodeToken(tok string) (drive, item, version string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", "", "", false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
