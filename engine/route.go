package engine

import (
	"errors"
	"path"
	"strings"

	"github.com/syncd/syncd/connectors"
)

// Route sends matching items to a workspace (and folder within it). The
// first route whose every set condition matches wins; an item no route
// matches goes to the source's or the job's workspace.
type Route struct {
	Match     Match  `yaml:"match"`
	Workspace string `yaml:"workspace"`
	Folder    string `yaml:"folder"` // folder prefix inside the workspace
}

// Match conditions; empty ones match everything.
type Match struct {
	Source     string `yaml:"source"`      // source name
	Kind       string `yaml:"kind"`        // mail | share | sharepoint
	Mailbox    string `yaml:"mailbox"`     // glob: "Projects/*"
	FromDomain string `yaml:"from_domain"` // sender's domain
	ToDomain   string `yaml:"to_domain"`   // any recipient's domain
	SubjectTag string `yaml:"subject_tag"` // substring of the subject, case-insensitive: "[ALPHA]"
	PathPrefix string `yaml:"path_prefix"` // share/SharePoint folder prefix
	Site       string `yaml:"site"`        // SharePoint site id or URL substring
	Library    string `yaml:"library"`     // SharePoint library (drive) name
}

func (r Route) validate() error {
	if r.Workspace == "" && r.Folder == "" {
		return errors.New("a route needs workspace or folder")
	}
	if r.Match.Mailbox != "" {
		if _, err := path.Match(r.Match.Mailbox, ""); err != nil {
			return errors.New("match.mailbox: bad glob " + r.Match.Mailbox)
		}
	}
	return nil
}

// Destination is where an item goes.
type Destination struct {
	Workspace string
	Folder    string
}

// route decides an item's workspace and folder.
func (j *Job) route(src SourceConfig, it *connectors.Item) Destination {
	ws := src.Workspace
	if ws == "" {
		ws = j.Workspace
	}
	if ws == "" {
		ws = "default"
	}
	folder := it.Path
	if it.Lineage.Kind == "mail" {
		folder = "" // mail folders are not document folders
	}
	for _, r := range j.Routes {
		if r.Match.matches(src.Name, it) {
			if r.Workspace != "" {
				ws = r.Workspace
			}
			if r.Folder != "" {
				rest := folder
				if p := strings.Trim(r.Match.PathPrefix, "/"); p != "" {
					rest = strings.TrimPrefix(strings.TrimPrefix(folder, p), "/")
				}
				folder = strings.Trim(path.Join(r.Folder, rest), "/")
			}
			break
		}
	}
	return Destination{Workspace: ws, Folder: folder}
}

func (m Match) matches(source string, it *connectors.Item) bool {
	l := it.Lineage
	if m.Source != "" && m.Source != source {
		return false
	}
	if m.Kind != "" && m.Kind != l.Kind {
		return false
	}
	if m.Mailbox != "" {
		if ok, _ := path.Match(m.Mailbox, l.Mailbox); !ok {
			return false
		}
	}
	if m.FromDomain != "" && !domainIs(l.From, m.FromDomain) {
		return false
	}
	if m.ToDomain != "" && !anyDomain(append(append([]string{}, l.To...), l.Cc...), m.ToDomain) {
		return false
	}
	if m.SubjectTag != "" && !strings.Contains(strings.ToLower(l.Subject), strings.ToLower(m.SubjectTag)) {
		return false
	}
	if m.PathPrefix != "" {
		p := strings.Trim(m.PathPrefix, "/")
		if it.Path != p && !strings.HasPrefix(it.Path, p+"/") {
			return false
		}
	}
	if m.Site != "" && !strings.Contains(l.Site, m.Site) {
		return false
	}
	if m.Library != "" && !strings.EqualFold(m.Library, l.DriveName) {
		return false
	}
	return true
}

func domainIs(addr, domain string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false
	}
	d := strings.ToLower(strings.Trim(addr[at+1:], "> "))
	domain = strings.ToLower(domain)
	return d == domain || strings.HasSuffix(d, "."+domain)
}

func anyDomain(addrs []string, domain string) bool {
	for _, a := range addrs {
		if domainIs(a, domain) {
			return true
		}
	}
	return false
}
