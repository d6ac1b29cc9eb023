package serve

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
)

// The audit log of a workspace or a document, for its curators and
// admins: "who downloaded version 3?".

// auditScope reads the page's workspace or document and checks the role;
// ok is false after an error answer.
func (s *Server) auditScope(w http.ResponseWriter, r *http.Request, p *Principal) (ws, doc, title, base string, ok bool) {
	if key := r.PathValue("doc"); key != "" {
		dv := s.visibleDocument(w, r, p, key)
		if dv == nil {
			return "", "", "", "", false
		}
		ws, doc, title, base = dv.Workspace, dv.Key, dv.Name, "/d/"+url.PathEscape(dv.Key)
	} else {
		ws = r.PathValue("ws")
		title, base = ws, "/w/"+url.PathEscape(ws)
	}
	switch role := p.Role(ws); {
	case role == None:
		s.fail(w, r, http.StatusNotFound, "no such workspace")
		return "", "", "", "", false
	case role < Curator:
		s.fail(w, r, http.StatusForbidden, "the audit log is for the workspace's curators and admins")
		return "", "", "", "", false
	}
	return ws, doc, title, base, true
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, p *Principal) {
	ws, doc, title, base, ok := s.auditScope(w, r, p)
	if !ok {
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	var rows []workspace.AuditEntry
	err := s.Cat.AuditOf(r.Context(), ws, doc, before, s.pageSize()+1, func(e workspace.AuditEntry) error {
		rows = append(rows, e)
		return nil
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	next := ""
	if len(rows) > s.pageSize() {
		rows = rows[:s.pageSize()]
		next = "?before=" + strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	s.render(w, r, "audit.html", map[string]any{
		"Title": "Audit log of " + title, "Who": p, "Rows": rows, "Next": next, "Back": base, "CSV": base + "/audit.csv",
	})
}

// auditCSV streams every entry, newest first, as CSV (cells defused for
// spreadsheets by report.Cell).
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, p *Principal) {
	ws, doc, _, _, ok := s.auditScope(w, r, p)
	if !ok {
		return
	}
	name := "audit-" + ws
	if doc != "" {
		name = "audit-" + doc
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", attachment(engine.SafeName(name)+".csv"))
	cw, err := report.StartCSV(w, []string{"id", "time", "actor", "action", "subject", "detail", "workspace", "document"})
	if err != nil {
		return
	}
	err = s.Cat.AuditOf(r.Context(), ws, doc, 0, 0, func(e workspace.AuditEntry) error {
		return cw.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339Nano), report.Cell(e.Actor), report.Cell(e.Action),
			report.Cell(e.Subject), report.Cell(e.Detail), report.Cell(e.Workspace), report.Cell(e.Document)})
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		// The header is sent: a cut-short CSV is all the client can get.
		s.logger().Error("serve: audit csv", "workspace", ws, "document", doc, "err", err)
	}
}
