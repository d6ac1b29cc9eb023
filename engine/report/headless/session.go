package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Session is one browser tab kept open across steps, for tests that drive
// a web application: navigate, click, fill file inputs, download, and
// evaluate JavaScript, while every request, console message, log entry
// and exception is recorded (see Result).
//
// Each step returns once what it started has finished: the load event of
// the navigation it caused, or the download it started. Waiting is driven
// by DevTools events only, and every wait also ends when ctx is done or
// the browser exits. A Session's methods may be called from several
// goroutines without data races, but steps are meant to run one at a
// time: two concurrent steps that both navigate cannot tell their
// navigations apart.
type Session struct {
	c         *conn
	sid       string // DevTools session of the tab
	dir       string // the session's temporary directory: browser profile and downloads
	downloads string
	opt       Options

	mu        sync.Mutex // guards mainFrame
	mainFrame string

	closeOnce sync.Once
	closeErr  error
}

// Open starts a fresh headless Chromium with one blank tab. Options.Width,
// Height (default 1200 x 900), MaxHeight and Top are used; Screenshot and
// Eval are ignored (see Session.Screenshot and Session.Eval). Downloads go
// to a directory of the session's own, removed by Close.
func Open(ctx context.Context, opt Options) (_ *Session, err error) {
	bin, err := Browser()
	if err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	dir, err := os.MkdirTemp("", "syncd-chromium-")
	if err != nil {
		return nil, err
	}
	downloads := filepath.Join(dir, "downloads")
	if err := os.Mkdir(downloads, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c, err := start(ctx, bin, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Session{c: c, dir: dir, downloads: downloads, opt: opt}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.sid, err = c.attach(ctx, opt); err != nil {
		return nil, err
	}
	if err := c.call(ctx, s.sid, "Page.setLifecycleEventsEnabled", map[string]any{"enabled": true}, nil); err != nil {
		return nil, err
	}
	if err := c.call(ctx, "", "Browser.setDownloadBehavior", map[string]any{
		"behavior": "allowAndName", "downloadPath": downloads, "eventsEnabled": true,
	}, nil); err != nil {
		return nil, err
	}
	var tree struct {
		FrameTree struct {
			Frame struct {
				ID string `json:"id"`
			} `json:"frame"`
		} `json:"frameTree"`
	}
	if err := c.call(ctx, s.sid, "Page.getFrameTree", nil, &tree); err != nil {
		return nil, err
	}
	s.mainFrame = tree.FrameTree.Frame.ID
	return s, nil
}

// Close closes the browser and removes its profile and the downloads.
// Calling it again returns the first call's result.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.c.close()
		s.closeErr = os.RemoveAll(s.dir)
	})
	return s.closeErr
}

// DownloadDir is the directory downloads are saved in; Close removes it.
func (s *Session) DownloadDir() string { return s.downloads }

// Navigate opens url in the tab and waits for the load event of that
// navigation. A navigation that fails (connection refused, bad host...) is
// an error; one within the same document (only the fragment changes)
// returns at once.
func (s *Session) Navigate(ctx context.Context, url string) error {
	w := s.watchNavigation()
	defer w.cancel()
	var nav struct {
		LoaderID  string `json:"loaderId"`
		ErrorText string `json:"errorText"`
	}
	if err := s.c.call(ctx, s.sid, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("headless: navigate to %s: %s", url, nav.ErrorText)
	}
	if nav.LoaderID == "" {
		return nil // same-document navigation: done, and no load event follows
	}
	return s.waitLoad(ctx, w, nav.LoaderID, "the load of "+url)
}

// ClickAndWait clicks the first element matching the CSS selector (with
// element.click(), so a link is followed and a submit button submits its
// form) and waits for the load event of the page the click navigated to.
// It is an error if the selector matches nothing. A click that does not
// navigate waits until ctx is done.
func (s *Session) ClickAndWait(ctx context.Context, selector string) error {
	w := s.watchNavigation() // armed before the click: the navigation may begin before evaluate replies
	defer w.cancel()
	if err := s.click(ctx, selector); err != nil {
		return err
	}
	return s.waitLoad(ctx, w, "", "a page load after clicking "+selector)
}

// Eval evaluates the JavaScript expression in the page (awaiting it if it
// is a promise) and decodes its JSON value into out, which may be nil. An
// undefined value leaves out untouched. An exception thrown by the
// expression is an error that includes the exception's text.
func (s *Session) Eval(ctx context.Context, expr string, out any) error {
	return s.eval(ctx, expr, out, false)
}

func (s *Session) eval(ctx context.Context, expr string, out any, gesture bool) error {
	var r struct {
		Result struct {
			Value               json.RawMessage `json:"value"`
			UnserializableValue string          `json:"unserializableValue"`
			Description         string          `json:"description"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Line      int    `json:"lineNumber"`
			Column    int    `json:"columnNumber"`
			Exception *struct {
				Description string          `json:"description"`
				Value       json.RawMessage `json:"value"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	params := map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}
	if gesture {
		params["userGesture"] = true
	}
	if err := s.c.call(ctx, s.sid, "Runtime.evaluate", params, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		msg := e.Text
		if x := e.Exception; x != nil {
			if x.Description != "" {
				msg += " " + x.Description
			} else if len(x.Value) > 0 {
				msg += " " + string(x.Value)
			}
		}
		return fmt.Errorf("headless: eval %s: %s (line %d, column %d)", short(expr), msg, e.Line+1, e.Column+1)
	}
	if out == nil {
		return nil
	}
	if r.Result.UnserializableValue != "" {
		return fmt.Errorf("headless: eval %s: value %s is not JSON", short(expr), r.Result.UnserializableValue)
	}
	if len(r.Result.Value) == 0 {
		return nil // undefined
	}
	if err := json.Unmarshal(r.Result.Value, out); err != nil {
		return fmt.Errorf("headless: eval %s: %w", short(expr), err)
	}
	return nil
}

func short(expr string) string {
	if len(expr) > 60 {
		expr = expr[:57] + "..."
	}
	return fmt.Sprintf("%q", expr)
}

// click clicks the first element matching selector.
func (s *Session) click(ctx context.Context, selector string) error {
	sel, err := json.Marshal(selector)
	if err != nil {
		return err
	}
	expr := fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) return false; el.click(); return true; })()`, sel)
	var found bool
	if err := s.eval(ctx, expr, &found, true); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("headless: click: no element matches %q", selector)
	}
	return nil
}

// SetFiles sets the files of the <input type=file> matching selector, as
// if the user had picked them. The files must exist.
func (s *Session) SetFiles(ctx context.Context, selector string, paths ...string) error {
	files := make([]string, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("headless: set files: %w", err)
		}
		files[i] = abs
	}
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	if err := s.c.call(ctx, s.sid, "DOM.getDocument", map[string]any{"depth": 0}, &doc); err != nil {
		return err
	}
	var q struct {
		NodeID int `json:"nodeId"`
	}
	if err := s.c.call(ctx, s.sid, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": selector}, &q); err != nil {
		return err
	}
	if q.NodeID == 0 {
		return fmt.Errorf("headless: set files: no element matches %q", selector)
	}
	return s.c.call(ctx, s.sid, "DOM.setFileInputFiles", map[string]any{"files": files, "nodeId": q.NodeID}, nil)
}

// Download clicks the element matching selector, a link to a file the
// server sends as an attachment, and waits until the download completes.
// It returns the downloaded file's path in DownloadDir: named after the
// file name the server suggested when that name is free there, else after
// the download's GUID. A cancelled download is an error, and so is a click
// that navigates instead of downloading.
func (s *Session) Download(ctx context.Context, selector string) (string, error) {
	w := s.c.subscribe(func(m message) bool {
		switch m.Method {
		case "Browser.downloadWillBegin", "Browser.downloadProgress":
			return m.SessionID == ""
		case "Page.downloadWillBegin", "Page.downloadProgress", "Page.frameNavigated", "Inspector.targetCrashed":
			return m.SessionID == s.sid
		}
		return false
	})
	defer w.cancel()
	if err := s.click(ctx, selector); err != nil {
		return "", err
	}
	what := "the download started by clicking " + selector
	var guid, name string
	type progress struct {
		GUID     string `json:"guid"`
		State    string `json:"state"`
		FilePath string `json:"filePath"`
	}
	ended := map[string]progress{} // by guid: completed or canceled, in case one is seen before its downloadWillBegin
	for {
		m, err := w.next(ctx, what)
		if err != nil {
			return "", err
		}
		var done progress
		switch m.Method {
		case "Inspector.targetCrashed":
			return "", fmt.Errorf("headless: the page crashed while waiting for %s", what)
		case "Page.frameNavigated":
			var p frameNavigated
			if json.Unmarshal(m.Params, &p) == nil && p.Frame.ParentID == "" {
				return "", fmt.Errorf("headless: clicking %s navigated to %s instead of downloading", selector, p.Frame.URL)
			}
			continue
		case "Browser.downloadWillBegin", "Page.downloadWillBegin":
			var p struct {
				GUID              string `json:"guid"`
				SuggestedFilename string `json:"suggestedFilename"`
			}
			if json.Unmarshal(m.Params, &p) != nil || guid != "" {
				continue
			}
			guid, name = p.GUID, p.SuggestedFilename
			var ok bool
			if done, ok = ended[guid]; !ok {
				continue
			}
		case "Browser.downloadProgress", "Page.downloadProgress":
			var p progress
			if json.Unmarshal(m.Params, &p) != nil || (p.State != "completed" && p.State != "canceled") {
				continue
			}
			if _, seen := ended[p.GUID]; !seen {
				ended[p.GUID] = p
			}
			if p.GUID != guid {
				continue
			}
			done = ended[guid]
		default:
			continue
		}
		if done.State == "canceled" {
			return "", fmt.Errorf("headless: %s was cancelled", what)
		}
		return s.nameDownload(guid, name, done.FilePath), nil
	}
}

// nameDownload gives the downloaded file (saved as its GUID) the name the
// server suggested, if that name is free.
func (s *Session) nameDownload(guid, suggested, reported string) string {
	path := reported
	if path == "" {
		path = filepath.Join(s.downloads, guid)
	}
	name := filepath.Base(filepath.FromSlash(suggested))
	if name == "." || name == ".." || name == string(filepath.Separator) || name == "" {
		return path
	}
	want := filepath.Join(s.downloads, name)
	if _, err := os.Lstat(want); !errors.Is(err, os.ErrNotExist) {
		return path
	}
	if os.Rename(path, want) != nil {
		return path
	}
	return want
}

// SetHeaders sends these HTTP headers (Authorization, say) with every
// request the tab makes from now on, replacing any set before.
func (s *Session) SetHeaders(ctx context.Context, h map[string]string) error {
	if h == nil {
		h = map[string]string{}
	}
	return s.c.call(ctx, s.sid, "Network.setExtraHTTPHeaders", map[string]any{"headers": h}, nil)
}

// Screenshot writes a PNG of the page to file: the viewport's width, from
// Options.Top down, at most Options.MaxHeight tall.
func (s *Session) Screenshot(ctx context.Context, file string) error {
	opt := s.opt
	opt.Screenshot = file
	return s.c.screenshot(ctx, s.sid, opt)
}

// Result is everything recorded so far: requests, console messages, log
// entries (CSP violations among them) and uncaught exceptions. Eval is
// empty.
func (s *Session) Result() Result {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	r := s.c.res
	r.Requests = slices.Clone(r.Requests)
	r.Console = slices.Clone(r.Console)
	r.Logs = slices.Clone(r.Logs)
	r.Exceptions = slices.Clone(r.Exceptions)
	r.Eval = nil
	return r
}

type frameNavigated struct {
	Frame struct {
		ID       string `json:"id"`
		ParentID string `json:"parentId"`
		LoaderID string `json:"loaderId"`
		URL      string `json:"url"`
	} `json:"frame"`
}

// watchNavigation subscribes to the tab's navigation events; arm it before
// the action that navigates.
func (s *Session) watchNavigation() *sub {
	return s.c.subscribe(func(m message) bool {
		if m.SessionID != s.sid {
			return false
		}
		switch m.Method {
		case "Page.frameNavigated", "Page.lifecycleEvent", "Page.navigatedWithinDocument", "Inspector.targetCrashed":
			return true
		}
		return false
	})
}

// waitLoad waits for the main frame's "load" lifecycle event of the
// document loaderID. With loaderID empty it follows the main frame's
// navigations seen on w (all of them began after w was armed) and waits
// for the load of the latest one, or returns on a same-document
// navigation.
func (s *Session) waitLoad(ctx context.Context, w *sub, loaderID, what string) error {
	follow := loaderID == ""
	loaded := map[string]bool{} // loaders whose load event was seen
	for {
		m, err := w.next(ctx, what)
		if err != nil {
			return err
		}
		switch m.Method {
		case "Inspector.targetCrashed":
			return fmt.Errorf("headless: the page crashed while waiting for %s", what)
		case "Page.frameNavigated":
			var p frameNavigated
			if json.Unmarshal(m.Params, &p) != nil || p.Frame.ParentID != "" {
				continue
			}
			s.mu.Lock()
			s.mainFrame = p.Frame.ID
			s.mu.Unlock()
			if follow {
				loaderID = p.Frame.LoaderID
			}
			if loaderID != "" && loaded[loaderID] {
				return nil
			}
		case "Page.navigatedWithinDocument":
			var p struct {
				FrameID string `json:"frameId"`
			}
			if follow && loaderID == "" && json.Unmarshal(m.Params, &p) == nil && p.FrameID == s.frame() {
				return nil
			}
		case "Page.lifecycleEvent":
			var p struct {
				FrameID  string `json:"frameId"`
				LoaderID string `json:"loaderId"`
				Name     string `json:"name"`
			}
			if json.Unmarshal(m.Params, &p) != nil || p.Name != "load" || p.FrameID != s.frame() {
				continue
			}
			if loaderID != "" && p.LoaderID == loaderID {
				return nil
			}
			loaded[p.LoaderID] = true
		}
	}
}

func (s *Session) frame() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mainFrame
}

// sub queues the events its filter wants from the moment subscribe
// returns, so a wait armed before an action cannot miss the action's
// events nor see earlier ones. The queue is unbounded: the reader never
// blocks on a slow or abandoned subscriber.
type sub struct {
	c      *conn
	want   func(message) bool // called by the reader with c.mu held
	queue  []message          // guarded by c.mu
	signal chan struct{}      // capacity 1: something was queued
}

func (c *conn) subscribe(want func(message) bool) *sub {
	s := &sub{c: c, want: want, signal: make(chan struct{}, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[*sub]struct{}{}
	}
	c.subs[s] = struct{}{}
	return s
}

func (s *sub) cancel() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	delete(s.c.subs, s)
	s.queue = nil
}

// next returns the next queued event, waiting for one until ctx is done or
// the browser exits.
func (s *sub) next(ctx context.Context, what string) (message, error) {
	for {
		s.c.mu.Lock()
		if len(s.queue) > 0 {
			m := s.queue[0]
			s.queue = s.queue[1:]
			s.c.mu.Unlock()
			return m, nil
		}
		s.c.mu.Unlock()
		select {
		case <-s.signal:
		case <-s.c.done:
			return message{}, fmt.Errorf("headless: the browser exited while waiting for %s: %v", what, s.c.readErr)
		case <-ctx.Done():
			return message{}, fmt.Errorf("headless: waiting for %s: %w", what, ctx.Err())
		}
	}
}
