// Package eas is the Exchange ActiveSync protocol side of easgate: it
// answers a phone's HTTP requests (MS-ASHTTP) in WBXML and keeps, per
// device, what each phone holds, so that every Sync is a delta and every
// Ping is push. It talks to the user's upstream stores only through the
// interfaces of backend.go, and imports no IMAP or DAV package.
//
// # Commands
//
// One file per command, named after it, holds its request and response
// types and its handler:
//
//   - Sync: sync.go (the request, the hanging Sync), with the engine below
//   - FolderSync, FolderCreate, FolderUpdate, FolderDelete: foldersync.go,
//     foldercreate.go, folderupdate.go, folderdelete.go, and folderops.go
//     for what the last three share
//   - GetItemEstimate, MoveItems, ItemOperations: getitemestimate.go,
//     moveitems.go, itemoperations.go
//   - Ping: ping.go; Search, Find: search.go, find.go
//   - SendMail, SmartReply, SmartForward: sendmail.go, smartreply.go,
//     smartforward.go, compose.go; GetAttachment: getattachment.go
//   - Provision, Settings, Autodiscover, OPTIONS: provision.go, settings.go,
//     autodiscover.go
//
// # The Sync engine
//
// A Sync works the same for every item class:
//
//   - syncrequest.go: what a request stands for (an empty or Partial one
//     merged with the cached request), its wait, its size limits
//   - synccollection.go: one collection in four phases (the key, the
//     phone's commands, the server's changes, the new state and answer)
//   - synccommands.go: the phone's Add, Change, Delete and Fetch;
//     syncmail.go and drafts.go: what only mail does with them
//   - syncreplay.go: the answer to a request repeated after a lost answer
//   - syncstate.go: what a device holds of a collection, stored compactly
//   - prefetch.go: the next window computed while the phone reads this one
//   - wait.go: holding a Ping or a hanging Sync until something changes
//
// # Classes and upstreams
//
// class.go explains how a class (Email, Contacts, Calendar, Tasks, Notes)
// plugs into the engine: an Item type with the class's fields (email.go,
// note.go) and an entry in the codec table. backend.go is the seam to the
// stores: Backend opens a user's Session, which may implement ItemWriter,
// FolderWriter and the mail extensions; combine.go joins several upstreams
// of one user into one Backend and Notifier, routing each folder's calls
// (and FolderCreate by class) to the upstream that holds it. multiplex.go
// merges the folders of a class into its default folder for phones that
// show one folder of that class (OneFolderClasses: the device profile).
//
// # Machinery
//
//   - server.go: the HTTP handler, authentication, per-device order, the
//     one place that turns errors into answers; commands.go: the command
//     table; query.go: the request line; version.go; status.go
//   - auth.go, devicelock.go, state.go (the Store interface), hierarchy.go
//     (folder ids), requestfolders.go (a request's view of the folders),
//     serverid.go (item ids), bodyoptions.go, elements.go (WBXML trees),
//     buffers.go (reused response buffers), metrics.go, admin.go
package eas
