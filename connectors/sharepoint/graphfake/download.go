package graphfake

import (
	"net/http"
	"time"
)

// download serves the pre-authenticated URL: no Authorization header
// allowed, Range honoured, bytes streamed from the version's Content.
func (s *Server) download(w http.ResponseWriter, r *http.Request, segs []string, dropAfter int64) {
	if r.Header.Get("Authorization") != "" {
		s.graphError(w, http.StatusUnauthorized, "unauthenticated", "pre-authenticated download URLs must be requested without an Authorization header")
		return
	}
	driveID, itemID, verID, ok := decodeToken(segs[1])
	var v *Version
	if ok {
		s.mu.Lock()
		if d := s.drives[driveID]; d != nil {
			if it := d.items[itemID]; it != nil {
				v = it.version(verID)
			}
		}
		s.mu.Unlock()
	}
	if v == nil {
		s.graphError(w, http.StatusNotFound, "itemNotFound", "The download link is invalid or expired.")
		return
	}
	rc, err := v.Content.Open()
	if err != nil {
		s.graphError(w, http.StatusInternalServerError, "generalException", err.Error())
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", "\""+segs[1]+"\"")
	if dropAfter > 0 {
		w = &dropWriter{ResponseWriter: w, left: dropAfter}
	}
	http.ServeContent(w, r, "", time.Time{}, rc)
}

// dropWriter passes left bytes, flushes them, then aborts the connection.
type dropWriter struct {
	http.ResponseWriter
	left int64
}

func (d *dropWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= d.left {
		d.left -= int64(len(p))
		return d.ResponseWriter.Write(p)
	}
	n, _ := d.ResponseWriter.Write(p[:d.left])
	d.left = 0
	if f, ok := d.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	_ = n
	panic(http.ErrAbortHandler)
}
