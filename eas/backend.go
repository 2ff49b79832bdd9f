package eas

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file is the seam between the protocol and a mail store. The eas
// package never speaks IMAP: it asks a Backend to open a Mailbox for the
// authenticated user and works through the interfaces below. The bridge
// package implements them on IMAP/SMTP; tests can swap in their own.

// Credentials are what the phone sent in its Authorization header, with the
// user name normalised (see NormalizeUser).
type Credentials struct {
	Username string
	Password string
	// RemoteAddr is the phone's address (an IP, behind a trusted proxy, or
	// IP:port), for the upstream's own logs and login throttling.
	RemoteAddr string
}

// Backend opens the mailbox of a user. Open logs in (or reuses a pooled,
// already authenticated connection) and returns ErrUnauthorized when the
// upstream refuses the credentials.
type Backend interface {
	Open(ctx context.Context, cred Credentials) (Mailbox, error)
}

// FolderType is the EAS folder type of MS-ASCMD FolderSync (2.2.3.186.3).
type FolderType int

// Folder types a mail-only server uses.
const (
	FolderGeneric    FolderType = 1
	FolderInbox      FolderType = 2
	FolderDrafts     FolderType = 3
	FolderDeleted    FolderType = 4
	FolderSent       FolderType = 5
	FolderOutbox     FolderType = 6
	FolderUserMail   FolderType = 12
	FolderUnknown    FolderType = 18
	FolderRecipients FolderType = 19
)

// IsSpecial reports whether the folder is one of the default folders a phone
// may not delete or rename.
func (t FolderType) IsSpecial() bool {
	switch t {
	case FolderInbox, FolderDrafts, FolderDeleted, FolderSent, FolderOutbox,
		FolderTasks, FolderCalendar, FolderContacts, FolderNotes, FolderJournal:
		return true
	}
	return false
}

// Folder is one mail folder as the backend sees it.
type Folder struct {
	// Path is the backend's own key for the folder (for IMAP, the mailbox
	// name). It changes when the folder is renamed.
	Path string
	// Parent is the Path of the parent folder, "" at the top level.
	Parent string
	// Name is the display name (the last path element, decoded).
	Name string
	Type FolderType
	// Stamp stays the same when the folder is renamed or moved and changes
	// when it is deleted and created again (IMAP: UIDVALIDITY). "" when the
	// backend cannot tell; renames then show as a Delete and an Add.
	Stamp string
}

// ChangeKind tells what a server-side change does to the phone's copy.
type ChangeKind int

const (
	ChangeAdd ChangeKind = iota + 1
	ChangeModify
	ChangeDelete
	// ChangeSoftDelete: the item left the FilterType window; the phone drops
	// its copy but the item still exists upstream.
	ChangeSoftDelete
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeAdd:
		return "Add"
	case ChangeModify:
		return "Change"
	case ChangeDelete:
		return "Delete"
	case ChangeSoftDelete:
		return "SoftDelete"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// KnownItems is the set of items the phone holds in one collection, each
// with the version the backend gave it when it was last sent. The backend
// reads it to find what the phone lacks; eas owns and stores it.
type KnownItems interface {
	Len() int
	Version(serverID string) (version string, ok bool)
	// Range calls fn for every item in unspecified order until fn returns false.
	Range(fn func(serverID, version string) bool)
}

// SyncQuery asks a Mailbox for the changes the phone lacks in one folder.
type SyncQuery struct {
	Path string
	// Cursor is what the previous ChangeSet returned for this folder ("" on
	// the first sync). It is the backend's own.
	Cursor string
	Known  KnownItems
	// Since bounds the items by date received (FilterType); zero: no bound.
	Since time.Time
	// IncompleteOnly asks for open tasks only (tasks FilterType 8): a held
	// task completed elsewhere leaves the phone (SoftDelete).
	IncompleteOnly bool
	// Window is the maximum number of changes to return (1..512).
	Window int
	// Body says how Adds render their bodies.
	Body BodyOptions
}

// ChangeSet is the backend's answer to a SyncQuery.
type ChangeSet struct {
	// Changes in the order they should reach the phone.
	Changes []ItemChange
	// More is true when changes beyond Window remain.
	More bool
	// Cursor to pass in the next SyncQuery once the phone has these changes.
	Cursor string
}

// ItemChange is one server-side change.
type ItemChange struct {
	Kind     ChangeKind
	ServerID string
	// Version the phone holds after applying the change (Add, Change).
	Version string
	// Item is the full item for Add and, for Change, the changed fields
	// (mail: Read, Flag, Categories); nil for deletes.
	Item Item
	// Err is set when the item could not be converted completely; Item then
	// holds what could be read. The item is still sent: a broken message must
	// never block its folder.
	Err error
}

// ItemRef names one item.
type ItemRef struct {
	Path     string
	ServerID string
	// Cursor is that of the phone's sync state of Path, when it has one. A
	// ServerId does not say which incarnation of the folder it belongs to:
	// given the cursor, a backend refuses (ErrNotFound) an item of a folder
	// made anew since (IMAP UIDVALIDITY), rather than act on another
	// message that has the same id now.
	Cursor string
	// Known is the version of the item the phone holds, given with a
	// write the store merges into the item as it now is (a 16.x
	// occurrence delete).
	Known string
	// Version is the protocol version of the phone that writes (Sync
	// Change and Delete); zero when not told.
	Version Version
}

// SearchQuery is a Mailbox store search (MS-ASCMD Search).
type SearchQuery struct {
	// Paths restricts the search to these folders; empty means every mail folder.
	Paths []string
	// FreeText is matched against headers and body.
	FreeText string
	// Since and Before bound DateReceived; zero values mean no bound.
	Since, Before time.Time
}

// AttachmentData is the content of one attachment (ItemOperations Fetch by
// FileReference).
type AttachmentData struct {
	ContentType string
	Data        []byte
}

// FlagUpdate carries the writable mail fields of a phone's Sync Change.
// nil fields are left as they are.
type FlagUpdate struct {
	Read       *bool
	Flag       *Flag
	Categories *[]string
	// Known is the version of the item the phone holds ("" when it holds
	// none). When the item no longer has it (another client changed it
	// meanwhile), UpdateFlags returns Known rather than the new version,
	// so that the next Sync sends the phone the item's flags as they are:
	// the new version would claim the phone knows the other change too.
	Known string
}

// Compose is an outgoing message from SendMail, SmartReply or SmartForward.
type Compose struct {
	// MIME is the phone's RFC 5322 message.
	MIME []byte
	// Source is the original for SmartReply/SmartForward; nil for SendMail.
	Source *ItemRef
	// Forward is true for SmartForward.
	Forward bool
	// ReplaceMime: MIME is the complete message; do not add the original.
	ReplaceMime bool
	// SaveInSent asks for a copy in the Sent folder.
	SaveInSent bool
	// Forwardees are extra recipients of a 16.0+ SmartForward.
	Forwardees []string
	// Draft names a stored draft to send as it is instead of MIME; once
	// sent it leaves the Drafts folder (16.0+ Sync with email2:Send).
	Draft *ItemRef
}

// Draft is a draft as a 16.0+ phone writes it in the Drafts folder with
// Sync. Fields left "" (or nil) keep those of the draft it replaces.
type Draft struct {
	To, Cc, Bcc, Subject string
	// Importance: 0 low, 1 normal, 2 high.
	Importance *int
	// Body replaces the text; its Type is BodyPlain or BodyHTML.
	Body *DraftBody
	// AddAttachments are new attachments.
	AddAttachments []DraftAttachment
	// DeleteAttachments name attachments of the replaced draft by the
	// FileReference the phone got for them.
	DeleteAttachments []string
	// MIME, when set, is the whole draft as the phone wrote it (a Body of
	// Type 4), stored as it is in place of the fields above; Read and Flag
	// are then its flags (nil: read, no flag).
	MIME []byte
	Read *bool
	Flag *Flag
}

// DraftBody is a draft's text.
type DraftBody struct {
	Type int
	Data string
}

// DraftAttachment is an attachment a phone adds to a draft.
type DraftAttachment struct {
	ClientID        string
	DisplayName     string
	ContentType     string
	ContentID       string
	ContentLocation string
	Method          int
	IsInline        bool
	Content         []byte
}

// SavedDraft is a draft as stored.
type SavedDraft struct {
	ServerID string
	Version  string
	// FileReferences of the added attachments, in the order of
	// Draft.AddAttachments.
	FileReferences []string
}

// Session is one user's store, of any class, for the duration of a
// request: what the engine needs to sync a folder. It is not safe for
// concurrent use; Close returns its upstream resources.
//
// What a store may do beyond reading it says by implementing more
// interfaces, which the engine finds by type assertion: ItemWriter for a
// phone's Adds, Changes and Deletes of contacts, events, tasks and notes;
// FolderEditor (mail) and FolderWriter (the other classes) for
// FolderCreate, FolderUpdate and FolderDelete; and the
// mail extensions (FlagWriter, MailDeleter, Mover, FolderEmptier,
// AttachmentReader, Searcher, Sender, DraftWriter, AddressBook) that
// Mailbox gathers.
type Session interface {
	Folders(ctx context.Context) ([]Folder, error)
	// Changes returns what the phone lacks. ErrStateInvalid means the
	// phone's copy cannot be brought up to date (e.g. UIDVALIDITY changed):
	// the phone must sync the folder from scratch.
	Changes(ctx context.Context, q SyncQuery) (*ChangeSet, error)
	// Pending estimates how many changes Changes would return without the
	// window, cheaply. It returns 0 quickly when nothing moved since cursor.
	Pending(ctx context.Context, q SyncQuery) (int, error)
	// Fetch returns the full item with bodies as requested.
	Fetch(ctx context.Context, ref ItemRef, body BodyOptions) (Item, error)
	Close() error
}

// ItemUpdate is a phone's Change of an item of a class other than mail.
type ItemUpdate struct {
	// Item holds the fields the phone sent.
	Item Item
	// Ghosted are the fields the phone left out that the item keeps.
	Ghosted []string
	// Known is the version the phone holds; "" makes the phone's change
	// win whatever happened to the item meanwhile.
	Known string
	// Version is the phone's protocol version: with 16.x a field left out
	// of a calendar Change keeps its value, before it is cleared.
	Version Version
}

// ItemWriter stores a phone's writes in a folder of a class other than
// mail.
type ItemWriter interface {
	// AddItem stores a new item in path.
	AddItem(ctx context.Context, path string, it Item) (serverID, version string, err error)
	// ChangeItem applies u and returns the item's new version;
	// ErrConflict when the item is no longer at u.Known.
	ChangeItem(ctx context.Context, ref ItemRef, u ItemUpdate) (version string, err error)
	DeleteItem(ctx context.Context, ref ItemRef) error
}

// NewItem is a phone's Add of an item of a class other than mail.
type NewItem struct {
	// Path is the folder the item goes to.
	Path string
	Item Item
	// Version is the phone's protocol version, which the item does not
	// tell; zero when not known. A calendar store needs it: a 16.x phone
	// sends an all-day event's times as dates and leaves the invitations
	// of a meeting it organizes to the server.
	Version Version
}

// ItemAdder is an ItemWriter that takes an Add with the phone's protocol
// version. The engine calls AddNewItem instead of AddItem when a store
// has it; AddNewItem with Version zero must do what AddItem does, so that
// a session forwarding to another store may implement AddItem by it.
type ItemAdder interface {
	AddNewItem(ctx context.Context, n NewItem) (serverID, version string, err error)
}

// addItem stores n in w, telling the version to a store that takes it.
func addItem(ctx context.Context, w ItemWriter, n NewItem) (serverID, version string, err error) {
	if a, ok := w.(ItemAdder); ok {
		return a.AddNewItem(ctx, n)
	}
	return w.AddItem(ctx, n.Path, n.Item)
}

// FolderEditor creates, renames and deletes folders.
type FolderEditor interface {
	// CreateFolder returns ErrExists when the name is taken, ErrNotFound
	// when the parent is missing and ErrInvalidName for a name it cannot use.
	CreateFolder(ctx context.Context, parent, name string) (Folder, error)
	// RenameFolder moves and/or renames path under newParent ("" = top),
	// with the errors of CreateFolder (ErrNotFound also for a missing path).
	RenameFolder(ctx context.Context, path, newParent, newName string) (Folder, error)
	DeleteFolder(ctx context.Context, path string) error
}

// FolderWriter creates, renames and deletes the folders of a store of the
// classes other than mail (address books, calendars). A folder is made of
// a type: one store may keep several classes (CalDAV: calendars and task
// lists). Its errors are those of FolderEditor, and ErrFolderType for a
// folder the store cannot make or move as asked.
type FolderWriter interface {
	// CreateTypedFolder makes a folder of type t (a user folder type of
	// the store's classes) under parent ("" = the top level).
	CreateTypedFolder(ctx context.Context, parent, name string, t FolderType) (Folder, error)
	RenameFolder(ctx context.Context, path, newParent, newName string) (Folder, error)
	DeleteFolder(ctx context.Context, path string) error
}

// FlagWriter applies a phone's change of a message's flags.
type FlagWriter interface {
	// UpdateFlags applies a phone's change and returns the version the
	// phone holds afterwards (see FlagUpdate.Known).
	UpdateFlags(ctx context.Context, ref ItemRef, u FlagUpdate) (version string, err error)
}

// MailDeleter deletes messages.
type MailDeleter interface {
	// Delete moves the item to trash ("" = expunge it).
	Delete(ctx context.Context, ref ItemRef, trash string) error
}

// Mover moves messages between folders (MoveItems).
type Mover interface {
	// Move moves the item and returns its ServerId and version in dst.
	Move(ctx context.Context, ref ItemRef, dst string) (serverID, version string, err error)
}

// FolderEmptier empties a folder (ItemOperations EmptyFolderContents).
type FolderEmptier interface {
	// EmptyFolder removes every item of path (and its subfolders when asked).
	EmptyFolder(ctx context.Context, path string, deleteSubfolders bool) error
}

// AttachmentReader reads attachments.
type AttachmentReader interface {
	// Attachment returns the bytes named by a FileReference the backend issued.
	Attachment(ctx context.Context, fileReference string) (*AttachmentData, error)
}

// Searcher searches the mail store.
type Searcher interface {
	// Search returns matching items, newest first.
	Search(ctx context.Context, q SearchQuery) ([]ItemRef, error)
}

// Sender submits messages.
type Sender interface {
	// Send submits a message. Errors are *SendError.
	Send(ctx context.Context, c Compose) error
}

// DraftWriter stores a 16.0+ phone's drafts.
type DraftWriter interface {
	// SaveDraft stores d in path as a draft, replacing the draft replaces
	// ("" for a new one), whose fields and attachments it keeps unless d
	// changes them. The stored draft has a new ServerId. ErrNotFound:
	// replaces is gone; ErrInvalidDraft: d cannot be written as a message.
	SaveDraft(ctx context.Context, path, replaces string, d *Draft) (*SavedDraft, error)
}

// AddressBook knows the user's own address.
type AddressBook interface {
	// PrimaryAddress is the user's e-mail address (Settings UserInformation).
	PrimaryAddress() string
}

// Mailbox is one user's mail store: a Session with every mail extension.
type Mailbox interface {
	Session
	AddressBook
	FolderEditor
	FlagWriter
	MailDeleter
	Mover
	FolderEmptier
	AttachmentReader
	Searcher
	Sender
	DraftWriter
}

// Errors a Backend or Mailbox returns; eas maps them to EAS statuses.
var (
	ErrUnauthorized = errors.New("eas: invalid credentials")
	ErrNotFound     = errors.New("eas: not found")
	ErrExists       = errors.New("eas: already exists")
	// ErrStateInvalid: the phone's sync state no longer matches the folder.
	ErrStateInvalid = errors.New("eas: sync state invalid")
	// ErrUnavailable: the upstream cannot be reached; the phone should retry.
	ErrUnavailable = errors.New("eas: upstream unavailable")
	// ErrInvalidName: a folder name the backend cannot store (empty, or
	// holding a character the upstream reserves).
	ErrInvalidName = errors.New("eas: invalid folder name")
	// ErrInvalidDraft: a phone's draft that cannot be written as a message
	// (an address that is none, say).
	ErrInvalidDraft = errors.New("eas: invalid draft")
	// ErrInvalidItem: a phone's item of a class other than mail that the
	// store cannot take as sent (a picture over the limit, a date that is
	// none). The store wrote nothing; the phone gets Status 6 for that item
	// and may send it again corrected.
	ErrInvalidItem = errors.New("eas: invalid item")
	// ErrFolderType: a folder of a type (or at a place) the store cannot
	// keep, such as a contacts folder where no store keeps contacts or an
	// address book under another folder.
	ErrFolderType = errors.New("eas: folder type not kept here")
	// ErrConflict: the item changed since the version the phone holds.
	ErrConflict = errors.New("eas: item changed meanwhile")
	// ErrFolderUnavailable: the upstream that holds this folder cannot be
	// reached, while the user's other upstreams can; only the folder's
	// collection answers a retryable status.
	ErrFolderUnavailable = errors.New("eas: folder's upstream unavailable")
)

// FoldersIncompleteError is the error of a folder list that lacks the
// folders of an upstream that is down: Session.Folders returns it with the
// folders it could list. eas keeps what it knows of the missing folders
// (their ids, the phone's copy of them) rather than delete them, so that
// the phone keeps its items and the other folders keep working.
type FoldersIncompleteError struct {
	// Missing are path prefixes: the folders whose Path starts with one
	// are not in the list.
	Missing []string
	// Err says why; it matches ErrFolderUnavailable.
	Err error
}

func (e *FoldersIncompleteError) Error() string {
	return fmt.Sprintf("folder list incomplete: %v", e.Err)
}

func (e *FoldersIncompleteError) Unwrap() error { return e.Err }

// lacks reports whether the folder at path may exist but is not listed.
func (e *FoldersIncompleteError) lacks(path string) bool {
	if e == nil {
		return false
	}
	for _, m := range e.Missing {
		if strings.HasPrefix(path, m) {
			return true
		}
	}
	return false
}

// SendError explains why a message was not sent.
type SendError struct {
	// Temporary failures (upstream unreachable, 4xx SMTP) may succeed later.
	Temporary bool
	// Code is the upstream's reply code, if any (e.g. SMTP 550).
	Code int
	// Reason says what was wrong when the backend can tell; it picks the
	// status the phone sees. Zero: the submission failed.
	Reason SendFailure
	Err    error
}

// SendFailure classifies a failed send.
type SendFailure int

const (
	// SendSubmissionFailed: the upstream refused or lost the message.
	SendSubmissionFailed SendFailure = iota
	// SendInvalidMIME: the phone's message cannot be read.
	SendInvalidMIME
	// SendNoRecipient: the message names nobody to send it to.
	SendNoRecipient
	// SendRecipientRejected: the upstream refused a recipient.
	SendRecipientRejected
	// SendTooLarge: the message exceeds the upstream's size limit.
	SendTooLarge
	// SendSourceNotFound: the original of a reply or forward is gone.
	SendSourceNotFound
	// SendComposeFailed: the reply or forward could not be put together.
	SendComposeFailed
)

func (e *SendError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("send failed (%d): %v", e.Code, e.Err)
	}
	return "send failed: " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// Subscription delivers change notices for the folders it watches.
type Subscription interface {
	// C receives the Path of a watched folder that may have changed.
	// Notices are coalesced so that the notifier never blocks: a path still
	// waiting in the channel is not sent again. A receiver therefore keeps
	// receiving until the channel is empty before it looks at the folders
	// named. C is closed when the notifier gives up on the account (the
	// upstream refused the login, or the notifier shut down).
	C() <-chan string
	Close()
}

// Notifier watches mailboxes for changes (push). One upstream watch per
// account is shared by every subscription of that account.
type Notifier interface {
	// Subscribe watches paths for cred's account. Every change after
	// Subscribe returns is noticed; one made just before may not be, so the
	// caller checks the folders itself once after subscribing.
	Subscribe(ctx context.Context, cred Credentials, paths []string) (Subscription, error)
}

// FolderListPath, given among the paths of Subscribe, asks for a notice
// when the folder list changes upstream (a folder created, deleted or
// renamed); the notice carries FolderListPath itself. No folder can have
// this Path: IMAP mailbox names cannot hold NUL.
const FolderListPath = "\x00folders"

// fetchEmail fetches a message, for the commands only mail has (Search,
// Find, ItemOperations of a mail item).
func fetchEmail(ctx context.Context, s Session, ref ItemRef, body BodyOptions) (*Email, error) {
	it, err := s.Fetch(ctx, ref, body)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, nil
	}
	e, ok := it.(*Email)
	if !ok {
		return nil, fmt.Errorf("fetch %s: a %s item, not a message: %w", ref.ServerID, it.Class(), ErrNotFound)
	}
	return e, nil
}
