package graphfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const fixture = "../../../fixtures/sharepoint/basic"

func get(t *testing.T, url string, auth bool, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer test")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func decode(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSiteByPathAndDrives(t *testing.T) {
	s, err := NewFromManifest(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{"/sites/contoso.sharepoint.com:/sites/finance", "/sites/contoso.sharepoint.com%3A%2Fsites%2Ffinance%3A"} {
		m := decode(t, get(t, s.URL()+p, true, nil))
		if !strings.HasPrefix(m["id"].(string), "contoso.sharepoint.com,") {
			t.Errorf("%s: site %v", p, m)
		}
	}
	m := decode(t, get(t, s.URL()+"/sites/contoso.sharepoint.com:/sites/finance:/drives", true, nil))
	if n := len(m["value"].([]any)); n != 2 {
		t.Errorf("drives: %d, want 2", n)
	}
	if r := get(t, s.URL()+"/sites/nope.example:/sites/x", true, nil); r.StatusCode != 404 {
		t.Errorf("missing site: %d", r.StatusCode)
	}
	if r := get(t, s.URL()+"/users/alice.hughes@contoso.com/drive", false, nil); r.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", r.StatusCode)
	}
}

func TestDeltaPagingAndDownload(t *testing.T) {
	s, err := NewFromManifest(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.PageSize = 3
	d := s.DriveIDs()[0]
	link := s.URL() + "/drives/" + d + "/items/root/delta()"
	var items []any
	pages := 0
	for {
		m := decode(t, get(t, link, true, nil))
		pages++
		items = append(items, m["value"].([]any)...)
		if n, ok := m["@odata.nextLink"].(string); ok {
			if !strings.HasPrefix(n, s.URL()) {
				t.Fatalf("nextLink not absolute: %s", n)
			}
			link = n
			continue
		}
		link = m["@odata.deltaLink"].(string)
		break
	}
	// root, Planning, 2024, budget, minutes, notebook, HR, salaries, Old
	if len(items) != 9 || pages != 3 {
		t.Fatalf("delta: %d items in %d pages, want 9 in 3", len(items), pages)
	}
	if m := decode(t, get(t, link, true, nil)); len(m["value"].([]any)) != 0 {
		t.Errorf("unchanged delta returned %v", m["value"])
	}
	id, _ := s.ItemID(d, "Planning/2024/Budget 2024.xlsx")
	if _, err := s.AddVersion(d, id, Bytes([]byte("v4")), Identity{DisplayName: "X"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := decode(t, get(t, link, true, nil))
	if v := m["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != id {
		t.Errorf("delta after new version: %v", v)
	}
	r := get(t, s.URL()+"/drives/"+d+"/items/"+id+"/versions/2.0/content", true, nil)
	loc := r.Header.Get("Location")
	if r.StatusCode != 302 || loc == "" {
		t.Fatalf("version content: %d %q", r.StatusCode, loc)
	}
	if r := get(t, loc, true, nil); r.StatusCode != 401 {
		t.Errorf("download with Authorization: %d, want 401", r.StatusCode)
	}
	r = get(t, loc, false, map[string]string{"Range": "bytes=7-"})
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 206 || string(b) != "v2: revised after review\n" {
		t.Errorf("range: %d %q", r.StatusCode, b)
	}
}

func TestFaultsAndExpiry(t *testing.T) {
	s, err := NewFromManifest(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := s.DriveIDs()[0]
	s.Inject(Rule{Route: RouteDelta, After: 1, Times: 2, Fault: Fault{Status: 429, RetryAfter: "0"}})
	url := s.URL() + "/drives/" + d + "/root/delta"
	codes := []int{}
	for i := 0; i < 4; i++ {
		r := get(t, url, true, nil)
		r.Body.Close()
		codes = append(codes, r.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 429 || codes[2] != 429 || codes[3] != 200 {
		t.Errorf("codes %v", codes)
	}
	m := decode(t, get(t, url, true, nil))
	link := m["@odata.deltaLink"].(string)
	if err := s.ExpireDeltaTokens(d); err != nil {
		t.Fatal(err)
	}
	r := get(t, link, true, nil)
	m = decode(t, r)
	if r.StatusCode != 410 || r.Header.Get("Location") == "" || m["error"].(map[string]any)["code"] != "resyncRequired" {
		t.Errorf("expired token: %d %v", r.StatusCode, m)
	}
	if s.Count(RouteDelta) != 6 {
		t.Errorf("delta count %d", s.Count(RouteDelta))
	}
}

func TestPatternReadAt(t *testing.T) {
	c := Pattern(7, 1000)
	r, _ := c.Open()
	all, _ := io.ReadAll(r)
	if len(all) != 1000 {
		t.Fatalf("len %d", len(all))
	}
	buf := make([]byte, 13)
	if _, err := r.ReadAt(buf, 501); err != nil || string(buf) != string(all[501:514]) {
		t.Errorf("ReadAt mismatch")
	}
}
