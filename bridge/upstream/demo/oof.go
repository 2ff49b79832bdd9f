package demo

import (
	"context"
	"sync"

	"github.com/easgate/easgate/eas"
)

// Oof keeps each user's out-of-office settings in memory, so that the demo
// shows a working switch on the phone. It sends no replies: the demo mail
// server delivers nothing from outside.
type Oof struct {
	mu    sync.Mutex
	users map[string]eas.OofConfig
}

var _ eas.OofBackend = (*Oof)(nil)

// NewOof returns an empty Oof.
func NewOof() *Oof { return &Oof{users: map[string]eas.OofConfig{}} }

// GetOof returns what SetOof stored for the user, off when nothing was.
func (o *Oof) GetOof(_ context.Context, cred eas.Credentials) (*eas.OofConfig, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cfg := o.users[cred.Username]
	return &cfg, nil
}

// SetOof stores the settings.
func (o *Oof) SetOof(_ context.Context, cred eas.Credentials, cfg *eas.OofConfig) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.users[cred.Username] = *cfg
	return nil
}
