package dav

import (
	"context"
	"sync"
)

// Homes remembers the home set of one kind for each user, so that the
// discovery of RFC 6764 runs once per user rather than on every request.
// It is keyed by the user alone: a home does not depend on the password,
// and every request that uses it logs in anyway, so a wrong password
// learns nothing from it. It holds one short path per user served.
type Homes struct {
	Kind Kind

	mu sync.Mutex
	m  map[string]string
}

// Find returns user's home set, asking c the first time.
func (h *Homes) Find(ctx context.Context, c *Client, user string) (string, error) {
	h.mu.Lock()
	home := h.m[user]
	h.mu.Unlock()
	if home != "" {
		return home, nil
	}
	home, err := c.HomeSet(ctx, h.Kind)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	if h.m == nil {
		h.m = map[string]string{}
	}
	h.m[user] = home
	h.mu.Unlock()
	return home, nil
}
