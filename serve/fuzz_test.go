package serve

import (
	"mime"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/internal/safetext"
	"github.com/syncd/syncd/workspace"
)

// FuzzDocumentPage: whatever a stranger names a file, a folder or a
// mail's subject and sender, the document page has no script, no
// embedded object, no event handler and no link off the server, shows
// the name as text, and its download is named by the tree export's
// SafeName. Seeds: the tree export's fuzz seeds and markup.
func FuzzDocumentPage(f *testing.F) {
	for _, s := range []string{
		hostileName, hostileName2, hostileName3, hostileName4, hostileSubject, hostileFrom,
		".syncd-manifest.json", "CON", "a/b\\c.txt", "evil\x1b]0;t\x07\r\u202etxt.exe", "\x00nul\xff\xfe",
		`<svg onload=alert(1)>`, `javascript:alert(1)`, `"><a href="https://evil.example">x</a>`, "</textarea><style>*{display:none}</style>",
		strings.Repeat("é", 300),
	} {
		f.Add(s, "folder/"+s, s)
	}
	f.Fuzz(func(t *testing.T, name, folder, subject string) {
		if name == "" {
			name = "x"
		}
		docs := []fixDoc{{key: "d-f", ws: "w", folder: strings.Trim(folder, "/"), name: name, versions: []fixVersion{
			{key: "f1", content: "one", seq: 1, seen: []workspace.Sighting{mail(name, subject, subject)}},
			{key: "f2", content: "two", seq: 2, parents: link("f1", subject, 0.5), seen: []workspace.Sighting{share(name, folder)}},
		}}}
		fx := newFixture(t, docs)
		w := fx.get(t, "/d/d-f", "")
		if w.Code != 200 {
			t.Fatalf("document page: %d", w.Code)
		}
		doc, err := html.Parse(strings.NewReader(w.Body.String()))
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch n.Data {
				case "script", "iframe", "object", "embed", "img", "style", "base", "meta", "link":
					if !(n.Data == "meta" || n.Data == "link" && attr(n, "href") == "/static/style.css") {
						t.Errorf("a <%s> element in the page", n.Data)
					}
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(strings.ToLower(a.Key), "on") {
						t.Errorf("an event handler attribute %s=%q", a.Key, a.Val)
					}
					if a.Key == "href" && !strings.HasPrefix(a.Val, "/") && !strings.HasPrefix(a.Val, "#") {
						t.Errorf("a link off the server: %q", a.Val)
					}
				}
			}
			if n.Type == html.TextNode {
				text.WriteString(n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if !strings.Contains(text.String(), safetext.Visible(strings.ToValidUTF8(name, "\uFFFD"))) && !strings.Contains(text.String(), safetext.Visible(name)) {
			t.Errorf("the page does not show the name %q as text", name)
		}
		d := fx.get(t, "/d/d-f/v/f2/download", "")
		_, params, err := mime.ParseMediaType(d.Header().Get("Content-Disposition"))
		if err != nil || params["filename"] != engine.SafeName(name) {
			t.Errorf("download named %q (%v), want %q", params["filename"], err, engine.SafeName(name))
		}
	})
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
