// Package headless opens a page in headless Chromium and reports what it
// did: every network request, console message, log entry and uncaught
// exception. It talks the Chrome DevTools Protocol over
// --remote-debugging-pipe (NUL-separated JSON on file descriptors 3 and 4),
// so no port is opened and no websocket library is needed. Tests use it to
// prove report.html is self-contained; `syncd` uses it for screenshots.
package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// ErrNoBrowser means no Chromium binary was found.
var ErrNoBrowser = errors.New("headless: chromium not found (install the Debian package chromium)")

// Browser finds the Chromium binary: $CHROMIUM, then chromium,
// chromium-browser, google-chrome on PATH.
func Browser() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Options for Load and Open.
type Options struct {
	Width, Height int    // viewport; default 1200 x 900
	Screenshot    string // if set, write a PNG of the page (up to MaxHeight tall) here
	MaxHeight     int    // default 2400
	Top           int    // the screenshot starts this many CSS pixels down the page
	Eval          string // JavaScript expression evaluated after load; its JSON value is returned
}

// Result is what the page did while loading.
type Result struct {
	Requests   []string // URLs requested, the page itself included
	Console    []string // console API calls ("error: ...")
	Logs       []string // browser log entries of level warning or error (CSP violations...)
	Exceptions []string // uncaught exceptions
	Eval       json.RawMessage
}

// Load opens url (file://...) in a fresh headless Chromium and waits for
// its load event.
func Load(ctx context.Context, url string, opt Options) (*Result, error) {
	bin, err := Browser()
	if err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	profile, err := os.MkdirTemp("", "syncd-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	c, err := start(ctx, bin, profile)
	if err != nil {
		return nil, err
	}
	defer c.close()
	return c.load(ctx, url, opt)
}

func (opt Options) withDefaults() Options {
	if opt.Width == 0 {
		opt.Width, opt.Height = 1200, 900
	}
	if opt.MaxHeight == 0 {
		opt.MaxHeight = 2400
	}
	return opt
}

// conn is one browser over the debugging pipe.
type conn struct {
	cmd     *exec.Cmd
	w       io.WriteCloser
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan message
	done    chan struct{}
	readErr error
	// guarded by mu: events of session are recorded into res
	session string
	res     Result
	loaded  chan struct{}
	isLoad  bool
	subs    map[*sub]struct{} // guarded by mu: see subscribe
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func start(ctx context.Context, bin, profile string) (*conn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
		"--user-data-dir="+filepath.Join(profile, "profile"), "about:blank")
	cmd.ExtraFiles = []*os.File{inR, outW} // fd 3: commands in, fd 4: replies out
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("headless: start %s: %w", bin, err)
	}
	inR.Close()
	outW.Close()
	c := &conn{cmd: cmd, w: inW, waiting: map[int]chan message{}, done: make(chan struct{}), loaded: make(chan struct{})}
	go c.read(outR)
	return c, nil
}

func (c *conn) read(r io.ReadCloser) {
	defer close(c.done)
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		b, err := br.ReadBytes(0)
		if err != nil {
			c.readErr = err
			return
		}
		var m message
		if err := json.Unmarshal(b[:len(b)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.waiting[m.ID]
			delete(c.waiting, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		c.event(m)
	}
}

// event records one event of the page's session.
func (c *conn) event(m message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		if s.want(m) {
			s.queue = append(s.queue, m)
			select {
			case s.signal <- struct{}{}:
			default:
			}
		}
	}
	if c.session == "" || m.SessionID != c.session {
		return
	}
	if m.Method == "Page.loadEventFired" && !c.isLoad {
		c.isLoad = true
		close(c.loaded)
		return
	}
	record(m, &c.res)
}

// call sends one command and waits for its reply.
func (c *conn) call(ctx context.Context, session, method string, params any, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan message, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("headless: %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("headless: %s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("headless: %s: browser closed the pipe: %v", method, c.readErr)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *conn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c.call(ctx, "", "Browser.close", nil, nil) != nil {
		_ = c.cmd.Process.Kill() // exited already, or hung: do not wait forever below
	}
	c.w.Close()
	<-c.done
	_ = c.cmd.Wait()
}

// attach opens a blank tab, attaches to it, enables the domains whose
// events are recorded and sets the viewport; it returns the session id.
func (c *conn) attach(ctx context.Context, opt Options) (string, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return "", err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return "", err
	}
	s := att.SessionID
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
	for _, m := range []string{"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"} {
		if err := c.call(ctx, s, m, nil, nil); err != nil {
			return "", err
		}
	}
	if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": opt.Width, "height": opt.Height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return "", err
	}
	return s, nil
}

func (c *conn) load(ctx context.Context, url string, opt Options) (*Result, error) {
	s, err := c.attach(ctx, opt)
	if err != nil {
		return nil, err
	}
	if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return nil, err
	}
	select {
	case <-c.loaded:
	case <-c.done:
		return nil, fmt.Errorf("headless: browser exited before the page loaded: %v", c.readErr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var eval json.RawMessage
	if opt.Eval != "" {
		var ev struct {
			Result struct {
				Value json.RawMessage `json:"value"`
			} `json:"result"`
		}
		if err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": opt.Eval, "returnByValue": true}, &ev); err != nil {
			return nil, err
		}
		eval = ev.Result.Value
	}
	if opt.Screenshot != "" {
		if err := c.screenshot(ctx, s, opt); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	res := c.res
	c.mu.Unlock()
	res.Eval = eval
	return &res, nil
}

func record(m message, res *Result) {
	switch m.Method {
	case "Network.requestWillBeSent":
		var p struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		if json.Unmarshal(m.Params, &p) == nil {
			res.Requests = append(res.Requests, p.Request.URL)
		}
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string            `json:"type"`
			Args []json.RawMessage `json:"args"`
		}
		if json.Unmarshal(m.Params, &p) == nil {
			res.Console = append(res.Console, fmt.Sprintf("%s: %s", p.Type, joinRaw(p.Args)))
		}
	case "Runtime.exceptionThrown":
		res.Exceptions = append(res.Exceptions, string(m.Params))
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level, Text, URL string
			} `json:"entry"`
		}
		if json.Unmarshal(m.Params, &p) == nil && (p.Entry.Level == "error" || p.Entry.Level == "warning") {
			res.Logs = append(res.Logs, fmt.Sprintf("%s: %s %s", p.Entry.Level, p.Entry.Text, p.Entry.URL))
		}
	}
}

func joinRaw(rs []json.RawMessage) string {
	out := ""
	for _, r := range rs {
		out += string(r) + " "
	}
	return out
}

func (c *conn) screenshot(ctx context.Context, s string, opt Options) error {
	var lm struct {
		CSSContentSize struct {
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := c.call(ctx, s, "Page.getLayoutMetrics", nil, &lm); err != nil {
		return err
	}
	h := min(max(int(lm.CSSContentSize.Height)-opt.Top, 1), opt.MaxHeight)
	clip := map[string]any{"x": 0, "y": opt.Top, "width": opt.Width, "height": h, "scale": 1}
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "clip": clip, "captureBeyondViewport": true}, &shot); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return fmt.Errorf("headless: screenshot: %w", err)
	}
	return os.WriteFile(opt.Screenshot, png, 0o644)
}
