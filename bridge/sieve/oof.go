package sieve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// Config says where the ManageSieve server is and how replies are made.
type Config struct {
	Addr      string
	Security  bridge.Security
	TLSConfig *tls.Config
	// Domain completes the user's address for logins without "@": the
	// address replies come from, and whose domain makes a sender internal.
	Domain string
	// Days is the vacation :days, how often one sender is answered; default 1.
	Days int
	// Timeout bounds one Get or Set, login included; default 30 s.
	Timeout time.Duration
}

// Oof keeps out-of-office settings as Sieve on a ManageSieve server, logging
// in with the phone's credentials. It implements eas.OofBackend.
type Oof struct {
	cfg Config
}

var _ eas.OofBackend = (*Oof)(nil)

// New returns an Oof for cfg.
func New(cfg Config) *Oof { return &Oof{cfg: cfg} }

// session is one logged-in connection and the user's script list.
type session struct {
	c       *Client
	scripts []Script
}

func (s *session) active() (string, bool) {
	for _, sc := range s.scripts {
		if sc.Active {
			return sc.Name, true
		}
	}
	return "", false
}

func (s *session) has(name string) bool {
	for _, sc := range s.scripts {
		if sc.Name == name {
			return true
		}
	}
	return false
}

// open logs in and lists the scripts; fn runs with the session, which is
// logged out after.
func (o *Oof) open(ctx context.Context, cred eas.Credentials, fn func(*session) error) error {
	timeout := o.cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := Dial(ctx, DialConfig{Addr: o.cfg.Addr, Security: o.cfg.Security, TLSConfig: o.cfg.TLSConfig})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Authenticate(ctx, cred.Username, cred.Password); err != nil {
		if errors.Is(err, ErrAuthFailed) {
			return fmt.Errorf("%w: %w", eas.ErrUnauthorized, err)
		}
		return err
	}
	s := &session{c: c}
	if s.scripts, err = c.ListScripts(ctx); err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	// The work is done; a LOGOUT that fails changes nothing of it.
	_ = c.Logout(ctx)
	return nil
}

// GetOof reads the settings back from easgate's script. They are reported
// off whenever easgate's wrapper is not the active script, whatever was set:
// then no reply goes out.
func (o *Oof) GetOof(ctx context.Context, cred eas.Credentials) (*eas.OofConfig, error) {
	cfg := &eas.OofConfig{}
	err := o.open(ctx, cred, func(s *session) error {
		if !s.has(OofScript) {
			return nil
		}
		content, err := s.c.GetScript(ctx, OofScript)
		if err != nil {
			return err
		}
		stored, err := parseOofScript(content)
		if err != nil {
			// Edited by hand: the next Set writes it anew.
			return nil
		}
		cfg = stored
		if name, _ := s.active(); name != WrapperScript {
			cfg.State = eas.OofDisabled
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get out of office: %w", err)
	}
	return cfg, nil
}

// SetOof stores the settings. On, it activates easgate's wrapper, which
// runs the rules active before after the reply; off, it activates those
// rules again (or none, when there were none) and removes the wrapper.
func (o *Oof) SetOof(ctx context.Context, cred eas.Credentials, cfg *eas.OofConfig) error {
	script, err := oofScript(cfg, rule{Address: o.address(cred.Username), Days: o.cfg.Days})
	if err != nil {
		return err
	}
	err = o.open(ctx, cred, func(s *session) error {
		if err := s.c.PutScript(ctx, OofScript, script); err != nil {
			return err
		}
		if cfg.State == eas.OofDisabled {
			return restore(ctx, s)
		}
		return wrap(ctx, s)
	})
	if err != nil {
		return fmt.Errorf("set out of office: %w", err)
	}
	return nil
}

// wrap makes the wrapper the active script, recording the one it replaces.
func wrap(ctx context.Context, s *session) error {
	name, had := s.active()
	if name == WrapperScript {
		return nil
	}
	if name == OofScript {
		// Activated by hand; including it twice would reply twice.
		name, had = "", false
	}
	w, err := wrapperScript(wrapper{Prior: name, HadPrior: had})
	if err != nil {
		return err
	}
	if err := s.c.PutScript(ctx, WrapperScript, w); err != nil {
		return err
	}
	return s.c.SetActive(ctx, WrapperScript)
}

// restore activates what the wrapper replaced and deletes the wrapper.
func restore(ctx context.Context, s *session) error {
	if !s.has(WrapperScript) {
		return nil
	}
	if name, _ := s.active(); name == WrapperScript {
		content, err := s.c.GetScript(ctx, WrapperScript)
		if err != nil {
			return err
		}
		w, err := parseWrapper(content)
		if err != nil {
			// Edited by hand, so what it replaced is unknown. It stays
			// active: it includes the script just emptied of its reply,
			// so Oof is off, and whatever else it runs keeps running.
			return nil
		}
		prior := ""
		if w.HadPrior && s.has(w.Prior) {
			prior = w.Prior
		}
		if err := s.c.SetActive(ctx, prior); err != nil {
			return err
		}
	}
	// Inactive, it is only left over (another script was activated meanwhile).
	return s.c.DeleteScript(ctx, WrapperScript)
}

// address is the user's own address, "" when it cannot be told.
func (o *Oof) address(login string) string {
	if strings.Contains(login, "@") {
		return login
	}
	if o.cfg.Domain == "" {
		return ""
	}
	return login + "@" + o.cfg.Domain
}
