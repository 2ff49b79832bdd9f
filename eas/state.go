package eas

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Store keeps what eas must remember between requests: devices, policy keys,
// the folder id map of each user and each device's sync state. The store
// package implements it on SQLite. Every device-scoped method is keyed by
// (user, device id) so that two accounts on one phone never mix.
//
// Sync states are opaque blobs to the store: eas encodes them (see
// syncstate.go) and the store keeps them per device and collection.
//
// Methods return ErrNotFound for a missing device where noted.
type Store interface {
	// Device returns one device or ErrNotFound.
	Device(ctx context.Context, user, deviceID string) (*Device, error)
	// Devices lists every device, ordered by user then device id.
	Devices(ctx context.Context) ([]Device, error)
	// TouchDevice records a request: it creates the device when it is new
	// (FirstSeen = At) and updates Type, UserAgent, ProtocolVersion,
	// LastCommand and LastSeen.
	TouchDevice(ctx context.Context, seen DeviceSeen) error
	// SetDeviceInfo stores what Settings/Provision DeviceInformation sent.
	SetDeviceInfo(ctx context.Context, user, deviceID string, info DeviceInfo) error
	// SetPolicyKeys stores the temporary key handed out in phase one and the
	// final, acknowledged key (0 when none yet).
	SetPolicyKeys(ctx context.Context, user, deviceID string, pending, final uint32) error
	// RequestWipe marks the device for remote wipe at its next request.
	// ErrNotFound when the device is unknown.
	RequestWipe(ctx context.Context, user, deviceID string, accountOnly bool, at time.Time) error
	// AckWipe records the device's acknowledgement of a wipe.
	AckWipe(ctx context.Context, user, deviceID string, status int, at time.Time) error
	// SetTrace switches request/response tracing for the device.
	SetTrace(ctx context.Context, user, deviceID string, on bool) error
	// RecordError remembers the latest item-level problem (a message that
	// failed to convert) so the admin API can show it.
	RecordError(ctx context.Context, user, deviceID, msg string, at time.Time) error
	// ResetDevice forgets the device's sync state (hierarchy, collections,
	// cached requests) but keeps the device, its policy key and wipe state.
	ResetDevice(ctx context.Context, user, deviceID string) error
	// DeleteDevice forgets the device and all its state.
	DeleteDevice(ctx context.Context, user, deviceID string) error

	// FolderIDs returns the user's folder id map (shared by all devices of
	// the user, so that every phone and every FolderSync sees the same ids).
	FolderIDs(ctx context.Context, user string) ([]FolderID, error)
	// SaveFolderIDs replaces the user's folder id map.
	SaveFolderIDs(ctx context.Context, user string, ids []FolderID) error
	// NextFolderID hands out a new folder id for the user; ids are never
	// reused, even after the folder is deleted.
	NextFolderID(ctx context.Context, user string) (string, error)

	// DeviceState reads a per-device blob of the given kind (nil, nil when
	// absent). Kinds are eas's own: hierarchy state, cached Sync request,
	// Ping parameters.
	DeviceState(ctx context.Context, user, deviceID, kind string) ([]byte, error)
	PutDeviceState(ctx context.Context, user, deviceID, kind string, data []byte) error

	// CollectionState reads a collection's sync state (nil, nil when absent).
	CollectionState(ctx context.Context, user, deviceID, collectionID string) ([]byte, error)
	PutCollectionState(ctx context.Context, user, deviceID, collectionID string, data []byte) error
	DeleteCollectionState(ctx context.Context, user, deviceID, collectionID string) error
	// CollectionIDs lists the collections with a stored state for the device.
	CollectionIDs(ctx context.Context, user, deviceID string) ([]string, error)

	// MarkSent records a ComposeMail ClientId whose message went out; it
	// returns false when the id was already recorded for the device. Old
	// ids may be forgotten after a few days.
	MarkSent(ctx context.Context, user, deviceID, clientID string, at time.Time) (first bool, err error)
	// SentBefore reports whether the device's message with this ClientId
	// was recorded as sent at or after since (the phone retries a message
	// whose answer it lost).
	SentBefore(ctx context.Context, user, deviceID, clientID string, since time.Time) (bool, error)
}

// RequestRecorder is a Store that records a request and reads the device
// back in one statement. The Device it returns has the request's own
// Requests count even while other requests of the device come in on other
// nodes; with TouchDevice then Device, one that lands in between is counted
// as this request's, and a prefetched Sync window computed before it could
// be taken as fresh.
type RequestRecorder interface {
	// RecordRequest does what TouchDevice does and returns the device as
	// the statement left it.
	RecordRequest(ctx context.Context, seen DeviceSeen) (*Device, error)
}

// Device is what the store knows of one phone of one user.
type Device struct {
	User     string     `json:"user"`
	ID       string     `json:"deviceId"`
	Type     string     `json:"deviceType"`
	Info     DeviceInfo `json:"info"`
	Protocol string     `json:"protocolVersion"`
	// UserAgent is the HTTP User-Agent of the latest request.
	UserAgent   string    `json:"userAgent"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	LastCommand string    `json:"lastCommand"`
	// Requests counts the device's requests, on every node: TouchDevice
	// adds one. Two requests whose counts differ by one had no other
	// request of the device between them.
	Requests uint64 `json:"requests"`

	PendingPolicyKey uint32 `json:"-"`
	PolicyKey        uint32 `json:"policyKey"`

	Wipe WipeState `json:"wipe"`

	Trace       bool      `json:"trace"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitempty"`
}

// DeviceInfo is Settings DeviceInformation (MS-ASCMD 2.2.3.47).
type DeviceInfo struct {
	Model          string `json:"model,omitempty" wbxml:"Settings:Model,omitempty"`
	IMEI           string `json:"imei,omitempty" wbxml:"Settings:IMEI,omitempty"`
	FriendlyName   string `json:"friendlyName,omitempty" wbxml:"Settings:FriendlyName,omitempty"`
	OS             string `json:"os,omitempty" wbxml:"Settings:OS,omitempty"`
	OSLanguage     string `json:"osLanguage,omitempty" wbxml:"Settings:OSLanguage,omitempty"`
	PhoneNumber    string `json:"phoneNumber,omitempty" wbxml:"Settings:PhoneNumber,omitempty"`
	UserAgent      string `json:"userAgent,omitempty" wbxml:"Settings:UserAgent,omitempty"`
	MobileOperator string `json:"mobileOperator,omitempty" wbxml:"Settings:MobileOperator,omitempty"`
	EnableOutbound string `json:"enableOutboundSMS,omitempty" wbxml:"Settings:EnableOutboundSMS,omitempty"`
}

// WipeState is the remote-wipe life cycle of a device.
type WipeState struct {
	// Requested by an administrator and not yet acknowledged.
	Requested bool `json:"requested"`
	// AccountOnly: 16.1 AccountOnlyRemoteWipe instead of a full wipe.
	AccountOnly bool      `json:"accountOnly"`
	RequestedAt time.Time `json:"requestedAt,omitempty"`
	// AckedAt is set when the device answered the wipe; AckStatus is what it
	// said (1 success, 2 failure).
	AckedAt   time.Time `json:"ackedAt,omitempty"`
	AckStatus int       `json:"ackStatus,omitempty"`
}

// DeviceSeen is the bookkeeping of one request.
type DeviceSeen struct {
	User, DeviceID, DeviceType string
	UserAgent                  string
	Protocol                   string
	Command                    string
	At                         time.Time
}

// FolderID ties an EAS folder ServerId to the backend's folder.
type FolderID struct {
	ID    string
	Path  string
	Stamp string
}

// loadDeviceState reads the device's state of kind, kept as JSON; nil when
// there is none or it cannot be read, which every caller treats as state
// the phone rebuilds (unreadable state is logged and counted in
// easgate_state_corrupt_total). what names it in errors.
func loadDeviceState[T any](ctx context.Context, s *Server, r *request, kind, what string) (*T, error) {
	b, err := s.store.DeviceState(ctx, r.user, r.q.DeviceID, kind)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if b == nil {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		s.cfg.Metrics.stateCorrupt(r.log, kind, fmt.Errorf("%s: %w", what, err))
		return nil, nil
	}
	return v, nil
}

// saveDeviceState stores v as the device's state of kind.
func (s *Server) saveDeviceState(ctx context.Context, r *request, kind, what string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.store.PutDeviceState(ctx, r.user, r.q.DeviceID, kind, b); err != nil {
		return fmt.Errorf("save %s: %w", what, err)
	}
	return nil
}
