package eas

// Status codes shared by every command (MS-ASCMD 2.2.2, "Common Status
// Codes"), used from protocol 14.0 on in a command's top-level Status.
const (
	StatusInvalidContent          = 101
	StatusInvalidWBXML            = 102
	StatusInvalidXML              = 103
	StatusInvalidDateTime         = 104
	StatusInvalidCombinationOfIDs = 105
	StatusInvalidIDs              = 106
	StatusInvalidMIME             = 107
	StatusDeviceIDMissing         = 108
	StatusDeviceTypeMissing       = 109
	StatusServerError             = 110
	StatusServerErrorRetryLater   = 111
	StatusMailboxQuotaExceeded    = 113
	StatusMailboxServerOffline    = 114
	StatusSendQuotaExceeded       = 115
	StatusRecipientUnresolved     = 116
	StatusReplyNotAllowed         = 117
	StatusMessagePreviouslySent   = 118
	StatusMessageHasNoRecipient   = 119
	StatusMailSubmissionFailed    = 120
	StatusMessageReplyFailed      = 121
	StatusAttachmentTooLarge      = 122
	StatusAccessDenied            = 130
	StatusSyncStateNotFound       = 132
	StatusSyncStateCorrupt        = 134
	StatusCommandNotSupported     = 137
	StatusVersionNotSupported     = 138
	StatusRemoteWipeRequested     = 140
	StatusLegacyDeviceOnStrict    = 141
	StatusDeviceNotProvisioned    = 142
	StatusPolicyRefresh           = 143
	StatusInvalidPolicyKey        = 144
	StatusInvalidStoredRequest    = 149
	StatusItemNotFound            = 150
	StatusTooManyFolders          = 151
	StatusNoFoldersFound          = 152
	StatusItemsLostAfterMove      = 153
	StatusFailureInMoveOperation  = 154
	StatusInvalidAccountID        = 166
	StatusIRMFeatureDisabled      = 168
	StatusMaximumDevicesReached   = 177
)

// Sync statuses (MS-ASCMD 2.2.3.177.17).
const (
	SyncSuccess           = 1
	SyncInvalidSyncKey    = 3
	SyncProtocolError     = 4
	SyncServerError       = 5
	SyncConversionError   = 6
	SyncConflict          = 7
	SyncObjectNotFound    = 8
	SyncCannotComplete    = 9
	SyncHierarchyChanged  = 12
	SyncIncompleteRequest = 13
	SyncInvalidInterval   = 14
	SyncTooManyFolders    = 15
	SyncRetry             = 16
)

// FolderSync, FolderCreate, FolderUpdate and FolderDelete statuses
// (MS-ASCMD 2.2.3.177.3–6).
const (
	FolderSuccess         = 1
	FolderExists          = 2
	FolderSpecial         = 3
	FolderNotFound        = 4
	FolderParentNotFound  = 5
	FolderServerError     = 6
	FolderInvalidSyncKey  = 9
	FolderMalformed       = 10
	FolderUnknownError    = 11
	FolderBackendProblems = 12
)

// Ping statuses (MS-ASCMD 2.2.3.177.11).
const (
	PingExpired          = 1
	PingChanges          = 2
	PingMissingParams    = 3
	PingSyntaxError      = 4
	PingInvalidInterval  = 5
	PingTooManyFolders   = 6
	PingHierarchyChanged = 7
	PingServerError      = 8
)

// Provision statuses (MS-ASPROV 2.2.2.54).
const (
	ProvisionSuccess       = 1
	ProvisionProtocolError = 2
	ProvisionServerError   = 3

	PolicySuccess      = 1
	PolicyNoPolicy     = 2
	PolicyUnknownType  = 3
	PolicyCorrupt      = 4
	PolicyWrongKeyAckd = 5
)

// Settings statuses (MS-ASCMD 2.2.3.177.13).
const (
	SettingsSuccess           = 1
	SettingsProtocolError     = 2
	SettingsAccessDenied      = 3
	SettingsServerUnavailable = 4
	SettingsInvalidArguments  = 5
	SettingsConflictingArgs   = 6
	SettingsDeniedByPolicy    = 7
)

// MoveItems statuses (MS-ASCMD 2.2.3.177.9).
const (
	MoveInvalidSource      = 1
	MoveInvalidDestination = 2
	MoveSuccess            = 3
	MoveSameFolder         = 4
	MoveFailure            = 5
	MoveLocked             = 7
)

// GetItemEstimate statuses (MS-ASCMD 2.2.3.177.6).
const (
	EstimateSuccess           = 1
	EstimateInvalidCollection = 2
	EstimateNotPrimed         = 3
	EstimateInvalidSyncKey    = 4
)

// ItemOperations statuses (MS-ASCMD 2.2.3.177.7).
const (
	ItemOpsSuccess            = 1
	ItemOpsProtocolError      = 2
	ItemOpsServerError        = 3
	ItemOpsNotFound           = 6
	ItemOpsBadRange           = 8
	ItemOpsStoreUnknown       = 9
	ItemOpsEmptyFile          = 10
	ItemOpsTooLarge           = 11
	ItemOpsIOFailure          = 12
	ItemOpsConversionFailed   = 14
	ItemOpsInvalidAttachment  = 15
	ItemOpsPartialSuccess     = 17
	ItemOpsCredentialsNeeded  = 18
	ItemOpsActionNotSupported = 156
)

// Search statuses (MS-ASCMD 2.2.3.177.14).
const (
	SearchSuccess         = 1
	SearchInvalidRequest  = 2
	SearchServerError     = 3
	SearchBadLink         = 4
	SearchAccessDenied    = 5
	SearchNotFound        = 6
	SearchConnectionFail  = 7
	SearchTooComplex      = 8
	SearchTimedOut        = 10
	SearchFolderSyncNeeds = 11
	SearchEndOfRange      = 12
)
