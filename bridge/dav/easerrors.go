package dav

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"

	"github.com/easgate/easgate/eas"
)

// EASError maps a DAV error to the error the engine turns into the phone's
// status: a refused login, a precondition that failed (the item changed
// meanwhile), an item that is gone, a server that is out of reach (a
// retryable status, never one that makes the phone drop what it holds).
// Other errors pass unchanged.
func EASError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnauthorized):
		return fmt.Errorf("%w: %v", eas.ErrUnauthorized, err)
	case errors.Is(err, ErrPrecondition):
		return fmt.Errorf("%w: %v", eas.ErrConflict, err)
	case IsStatus(err, http.StatusNotFound, http.StatusGone):
		return fmt.Errorf("%w: %v", eas.ErrNotFound, err)
	case Temporary(err):
		return fmt.Errorf("%w: %v", eas.ErrUnavailable, err)
	}
	return err
}

// NewUID makes the UID (and resource name) of a phone's new item: a
// random UUID, as other clients make them.
func NewUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
