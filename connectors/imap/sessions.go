package imap

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// A kept session is for the next Source of the same account in this
// process, which starts at once (the next part of the account): it is
// kept briefly, far below any server's idle logout (Dovecot and
// Exchange: 30 minutes), and few are kept, since idle sessions count
// against the server's connections per user (Dovecot's
// mail_max_userip_connections) for every worker.
const sessionKeep = 2 // per account

// sessionTTL is how long a session is kept (a variable for tests, which
// must not depend on how fast the machine gets from one Source to the
// next).
var sessionTTL = 3 * time.Second

// sessions keeps the connections of Sources that ended, logged in, for a
// short while: the parts of one account (connectors.Partitioner) run
// one after another or side by side in one process, each a Source of
// its own, and would otherwise each log in again (a handful of round
// trips over a WAN) and log out (one more).
var sessions = &sessionPool{idle: map[string][]*pooled{}}

type sessionPool struct {
	mu   sync.Mutex
	idle map[string][]*pooled
}

type pooled struct {
	cn    *conn
	timer *time.Timer // logs cn out when its time is up
}

// sessionKey names what a session was opened with: everything in the
// config that shapes a connection (server, TLS and its trust, account,
// source) and the secret it logged in with, as a digest. A Source gets
// only a session it would have opened itself.
func (s *Source) sessionKey(cr credentials) string {
	h := sha256.New()
	for _, f := range []string{s.name, s.cfg.Address, s.cfg.TLS, s.cfg.CAFile, s.cfg.ServerName, s.cfg.Username,
		s.cfg.Binary, strconv.FormatInt(int64(s.cfg.DialTimeout), 10), cr.token, cr.password} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// take returns a kept connection of key, or nil.
func (p *sessionPool) take(key string) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for list := p.idle[key]; len(list) > 0; list = p.idle[key] {
		e := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		if !e.timer.Stop() {
			continue // being logged out
		}
		select {
		case <-e.cn.c.Closed():
			continue // the server hung up
		default:
		}
		return e.cn
	}
	delete(p.idle, key)
	return nil
}

// put keeps cn for the next Source of its account, or logs it out. A
// mailbox it has open is closed first (one round trip): the next Source
// must see the mailbox as the server has it now, which a connection that
// kept it selected does not (STATUS of a selected mailbox, changes made
// through other connections).
func (p *sessionPool) put(cn *conn) {
	if cn.c.State() == imap.ConnStateSelected {
		var cmd *imapclient.Command
		if caps := cn.c.Caps(); caps.Has(imap.CapUnselect) || caps.Has(imap.CapIMAP4rev2) {
			cmd = cn.c.Unselect()
		} else {
			cmd = cn.c.UnselectAndExpunge() // CLOSE: mailboxes are only ever EXAMINEd, so it expunges nothing
		}
		if err := cmd.Wait(); err != nil {
			cn.c.Close()
			return
		}
	}
	cn.selected = ""
	key := cn.key
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle[key]) >= sessionKeep {
		go logout(cn)
		return
	}
	e := &pooled{cn: cn}
	e.timer = time.AfterFunc(sessionTTL, func() {
		p.mu.Lock()
		list := p.idle[key]
		for i, x := range list {
			if x == e {
				p.idle[key] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(p.idle[key]) == 0 {
			delete(p.idle, key)
		}
		p.mu.Unlock()
		logout(cn)
	})
	p.idle[key] = append(p.idle[key], e)
}

func logout(cn *conn) {
	_ = cn.c.Logout().Wait()
	cn.c.Close()
}

// drop logs out every session kept for key: the server refused a login
// for too many connections, and those count.
func (p *sessionPool) drop(key string) {
	p.mu.Lock()
	list := p.idle[key]
	delete(p.idle, key)
	p.mu.Unlock()
	for _, e := range list {
		if e.timer.Stop() {
			go logout(e.cn)
		}
	}
}
