package contacts

import (
	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// Notifier is the push of the address books: the Backend's poller, one
// polling loop per account shared by all its phones. Folder paths are the
// books' own.
func (b *Backend) Notifier() eas.Notifier {
	return dav.Notifier{Poller: b.poller, Kind: dav.AddressBooks}
}
