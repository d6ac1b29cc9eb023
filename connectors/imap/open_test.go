package imap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	imapsrc "github.com/syncd/syncd/connectors/imap"
)

// TestSecretsStayOut: a wrong password and an OAuth2 token the server cannot
// use fail with errors that never contain the secret.
func TestSecretsStayOut(t *testing.T) {
	srv := startMemory(t)
	const secret = "hunter2-very-secret"
	os.Setenv("SYNCD_TEST_IMAP_BAD", secret)
	for _, extra := range []string{"password_env: SYNCD_TEST_IMAP_BAD", "oauth2_token_env: SYNCD_TEST_IMAP_BAD"} {
		cfg := connectortest.Config(t, "name: x\ntype: imap\naddress: "+srv.addr+"\ntls: none\nusername: "+alice+"\n"+extra)
		s, err := connectors.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Scan(context.Background(), nil, &connectortest.Recorder{})
		s.Close()
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: err=%v", extra, err)
		}
		if strings.HasPrefix(extra, "oauth2") && !errors.Is(err, imapsrc.ErrNoMechanism) {
			t.Errorf("XOAUTH2 against a server without it: %v, want ErrNoMechanism", err)
		}
	}
}

// TestOpenDuringScanAndConcurrently: Open works from inside sink.Item while
// the scan holds its own connection, and from many goroutines at once.
func TestOpenDuringScanAndConcurrently(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		s := newSource(t, srv, alice, "")
		defer s.Close()
		inline := map[connectors.Ref]string{}
		rec := &connectortest.Recorder{OnItem: func(ctx context.Context, it *connectors.Item) error {
			if it.Skip != "" || strings.HasSuffix(it.Name, "bad.bin") {
				return nil
			}
			rc, err := s.Open(ctx, it)
			if err != nil {
				return err
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			inline[it.Ref] = sha(b)
			return err
		}}
		if _, err := s.Scan(context.Background(), nil, rec); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(inline))
		for _, it := range rec.Content() {
			want, ok := inline[it.Ref]
			if !ok {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc, err := s.Open(context.Background(), it)
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				if err != nil || sha(b) != want {
					errs <- fmt.Errorf("%s: concurrent read differs (%v)", it.Ref, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if len(inline) < 15 {
			t.Errorf("only %d items opened inline", len(inline))
		}
	})
}

// TestOpenByRefOnly: Open needs nothing but the Ref (the engine stores
// refs, not scan state): bytes equal those opened with scan state.
func TestOpenByRefOnly(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		s := newSource(t, srv, alice, "")
		rec, _ := connectortest.Scan(t, s, nil)
		s.Close()
		fresh := newSource(t, srv, alice, "")
		defer fresh.Close()
		n := 0
		for _, it := range rec.Content() {
			if strings.HasSuffix(it.Name, "bad.bin") {
				continue
			}
			want := connectortest.ReadAll(t, fresh, it)
			bare := *it
			bare.Private = nil
			if got := connectortest.ReadAll(t, fresh, &bare); sha(got) != sha(want) {
				t.Errorf("%s: by ref %d bytes, with scan state %d", it.Ref, len(got), len(want))
			}
			n++
		}
		if n < 15 {
			t.Errorf("only %d items", n)
		}
	})
}
