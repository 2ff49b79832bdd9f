package calendars

import (
	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// Notifier is the push of the calendars: the Backend's poller, one
// polling loop per account shared by all its phones. A collection of
// events and tasks is two folders, and a notice for it goes to both.
func (b *Backend) Notifier() eas.Notifier {
	return dav.Notifier{Poller: b.poller, Kind: dav.Calendars, Collection: func(folder string) (string, error) {
		coll, _, err := splitPath(folder)
		return coll, err
	}}
}
