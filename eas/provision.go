package eas

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// PolicyTypeWBXML is the only policy type of protocol 12.0 and later
// (MS-ASPROV 2.2.2.42); MS-WAP-Provisioning-XML belongs to 2.5.
const PolicyTypeWBXML = "MS-EAS-Provisioning-WBXML"

// ProvisionRequest is the Provision command's request (MS-ASPROV 2.2.2.52).
// The first phase asks for the policy, the second acknowledges it with the
// temporary key; a wiped device acknowledges the wipe instead.
type ProvisionRequest struct {
	XMLName           wbxml.Name         `wbxml:"Provision:Provision"`
	DeviceInformation *DeviceInformation `wbxml:"Settings:DeviceInformation,omitempty"`
	Policies          *PolicyAcks        `wbxml:"Policies,omitempty"`
	RemoteWipe        *WipeAck           `wbxml:"RemoteWipe,omitempty"`
	AccountOnlyWipe   *WipeAck           `wbxml:"AccountOnlyRemoteWipe,omitempty"`
}

// PolicyAcks holds the policies a phone asks for or acknowledges.
type PolicyAcks struct {
	Policy []PolicyAck `wbxml:"Policy"`
}

// PolicyAck is a Policy of a request; PolicyKey must precede Status in an
// acknowledgement (MS-ASPROV 2.2.2.41).
type PolicyAck struct {
	PolicyType string `wbxml:"PolicyType,omitempty"`
	PolicyKey  string `wbxml:"PolicyKey,omitempty"`
	Status     int    `wbxml:"Status,omitempty"`
}

// WipeAck is a phone's answer to a remote wipe: 1 it wiped, 2 it failed.
type WipeAck struct {
	Status int `wbxml:"Status"`
}

// ProvisionResponse is the Provision command's response, in the order of
// MS-ASPROV's schema (a sequence): DeviceInformation comes before Status.
type ProvisionResponse struct {
	XMLName           wbxml.Name               `wbxml:"Provision:Provision"`
	DeviceInformation *DeviceInformationStatus `wbxml:"Settings:DeviceInformation,omitempty"`
	Status            int                      `wbxml:"Status"`
	Policies          *Policies                `wbxml:"Policies,omitempty"`
	RemoteWipe        bool                     `wbxml:"RemoteWipe,empty"`
	AccountOnlyWipe   bool                     `wbxml:"AccountOnlyRemoteWipe,empty"`
}

// Policies holds the policies of a response.
type Policies struct {
	Policy []Policy `wbxml:"Policy"`
}

// Policy is one policy of a response, in the order MS-ASPROV gives.
type Policy struct {
	PolicyType string      `wbxml:"PolicyType"`
	Status     int         `wbxml:"Status"`
	PolicyKey  string      `wbxml:"PolicyKey,omitempty"`
	Data       *PolicyData `wbxml:"Data,omitempty"`
}

// PolicyData carries the policy document of the first phase.
type PolicyData struct {
	Doc ProvisionDoc `wbxml:"EASProvisionDoc"`
}

// ProvisionDoc is the EASProvisionDoc (MS-ASPROV 2.2.2.27), in schema order.
// Values are strings as on the wire; an empty value leaves the setting out.
type ProvisionDoc struct {
	DevicePasswordEnabled                    string `wbxml:"DevicePasswordEnabled,omitempty"`
	AlphanumericDevicePasswordRequired       string `wbxml:"AlphanumericDevicePasswordRequired,omitempty"`
	PasswordRecoveryEnabled                  string `wbxml:"PasswordRecoveryEnabled,omitempty"`
	RequireStorageCardEncryption             string `wbxml:"RequireStorageCardEncryption,omitempty"`
	AttachmentsEnabled                       string `wbxml:"AttachmentsEnabled,omitempty"`
	MinDevicePasswordLength                  string `wbxml:"MinDevicePasswordLength,omitempty"`
	MaxInactivityTimeDeviceLock              string `wbxml:"MaxInactivityTimeDeviceLock,omitempty"`
	MaxDevicePasswordFailedAttempts          string `wbxml:"MaxDevicePasswordFailedAttempts,omitempty"`
	MaxAttachmentSize                        string `wbxml:"MaxAttachmentSize,omitempty"`
	AllowSimpleDevicePassword                string `wbxml:"AllowSimpleDevicePassword,omitempty"`
	DevicePasswordExpiration                 string `wbxml:"DevicePasswordExpiration,omitempty"`
	DevicePasswordHistory                    string `wbxml:"DevicePasswordHistory,omitempty"`
	AllowStorageCard                         string `wbxml:"AllowStorageCard,omitempty"`
	AllowCamera                              string `wbxml:"AllowCamera,omitempty"`
	RequireDeviceEncryption                  string `wbxml:"RequireDeviceEncryption,omitempty"`
	AllowUnsignedApplications                string `wbxml:"AllowUnsignedApplications,omitempty"`
	AllowUnsignedInstallationPackages        string `wbxml:"AllowUnsignedInstallationPackages,omitempty"`
	MinDevicePasswordComplexCharacters       string `wbxml:"MinDevicePasswordComplexCharacters,omitempty"`
	AllowWiFi                                string `wbxml:"AllowWiFi,omitempty"`
	AllowTextMessaging                       string `wbxml:"AllowTextMessaging,omitempty"`
	AllowPOPIMAPEmail                        string `wbxml:"AllowPOPIMAPEmail,omitempty"`
	AllowBluetooth                           string `wbxml:"AllowBluetooth,omitempty"`
	AllowIrDA                                string `wbxml:"AllowIrDA,omitempty"`
	RequireManualSyncWhenRoaming             string `wbxml:"RequireManualSyncWhenRoaming,omitempty"`
	AllowDesktopSync                         string `wbxml:"AllowDesktopSync,omitempty"`
	MaxCalendarAgeFilter                     string `wbxml:"MaxCalendarAgeFilter,omitempty"`
	AllowHTMLEmail                           string `wbxml:"AllowHTMLEmail,omitempty"`
	MaxEmailAgeFilter                        string `wbxml:"MaxEmailAgeFilter,omitempty"`
	MaxEmailBodyTruncationSize               string `wbxml:"MaxEmailBodyTruncationSize,omitempty"`
	MaxEmailHTMLBodyTruncationSize           string `wbxml:"MaxEmailHTMLBodyTruncationSize,omitempty"`
	RequireSignedSMIMEMessages               string `wbxml:"RequireSignedSMIMEMessages,omitempty"`
	RequireEncryptedSMIMEMessages            string `wbxml:"RequireEncryptedSMIMEMessages,omitempty"`
	RequireSignedSMIMEAlgorithm              string `wbxml:"RequireSignedSMIMEAlgorithm,omitempty"`
	RequireEncryptionSMIMEAlgorithm          string `wbxml:"RequireEncryptionSMIMEAlgorithm,omitempty"`
	AllowSMIMEEncryptionAlgorithmNegotiation string `wbxml:"AllowSMIMEEncryptionAlgorithmNegotiation,omitempty"`
	AllowSMIMESoftCerts                      string `wbxml:"AllowSMIMESoftCerts,omitempty"`
	AllowBrowser                             string `wbxml:"AllowBrowser,omitempty"`
	AllowConsumerEmail                       string `wbxml:"AllowConsumerEmail,omitempty"`
	AllowRemoteDesktop                       string `wbxml:"AllowRemoteDesktop,omitempty"`
	AllowInternetSharing                     string `wbxml:"AllowInternetSharing,omitempty"`
}

// PermissivePolicy asks nothing of the device: no PIN, no encryption, every
// feature allowed, no age or size limits. easgate mirrors a mailbox and
// leaves device security to the device's owner.
func PermissivePolicy() ProvisionDoc {
	return ProvisionDoc{
		DevicePasswordEnabled:                    "0",
		AlphanumericDevicePasswordRequired:       "0",
		PasswordRecoveryEnabled:                  "0",
		RequireStorageCardEncryption:             "0",
		AttachmentsEnabled:                       "1",
		MinDevicePasswordLength:                  "1",
		MaxInactivityTimeDeviceLock:              "0",
		MaxDevicePasswordFailedAttempts:          "0",
		AllowSimpleDevicePassword:                "1",
		DevicePasswordExpiration:                 "0",
		DevicePasswordHistory:                    "0",
		AllowStorageCard:                         "1",
		AllowCamera:                              "1",
		RequireDeviceEncryption:                  "0",
		AllowUnsignedApplications:                "1",
		AllowUnsignedInstallationPackages:        "1",
		MinDevicePasswordComplexCharacters:       "1",
		AllowWiFi:                                "1",
		AllowTextMessaging:                       "1",
		AllowPOPIMAPEmail:                        "1",
		AllowBluetooth:                           "2",
		AllowIrDA:                                "1",
		RequireManualSyncWhenRoaming:             "0",
		AllowDesktopSync:                         "1",
		MaxCalendarAgeFilter:                     "0",
		AllowHTMLEmail:                           "1",
		MaxEmailAgeFilter:                        "0",
		MaxEmailBodyTruncationSize:               "-1",
		MaxEmailHTMLBodyTruncationSize:           "-1",
		RequireSignedSMIMEMessages:               "0",
		RequireEncryptedSMIMEMessages:            "0",
		RequireSignedSMIMEAlgorithm:              "0",
		RequireEncryptionSMIMEAlgorithm:          "0",
		AllowSMIMEEncryptionAlgorithmNegotiation: "2",
		AllowSMIMESoftCerts:                      "1",
		AllowBrowser:                             "1",
		AllowConsumerEmail:                       "1",
		AllowRemoteDesktop:                       "1",
		AllowInternetSharing:                     "1",
	}
}

// newPolicyKey returns a random non-zero key: 0 means "not provisioned" in
// the header, and an iOS beta rejected a key of 0 in a response.
func newPolicyKey() uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("eas: no randomness for a policy key: %v", err))
		}
		if k := binary.BigEndian.Uint32(b[:]); k != 0 {
			return k
		}
	}
}

// checkPolicy answers a command from a device that must (re)provision first:
// HTTP 449 up to 12.1, a top-level Status from 14.0 (MS-ASPROV 3.2.5.1).
func (s *Server) checkPolicy(r *request) *reply {
	if !r.cmd.provisioned {
		return nil
	}
	dev := r.dev
	status := 0
	switch {
	case dev.Wipe.Requested:
		status = StatusRemoteWipeRequested
	case dev.PolicyKey == 0:
		status = StatusDeviceNotProvisioned
	case !r.q.HasPolicyKey:
		// AOSP's Exchange client sends no X-MS-PolicyKey with Ping; its
		// other commands carry it.
		if r.cmd.name == "Ping" {
			return nil
		}
		status = StatusDeviceNotProvisioned
	case r.q.PolicyKey != dev.PolicyKey:
		status = StatusInvalidPolicyKey
	default:
		return nil
	}
	if !r.version().AtLeast(V140) || r.cmd.root == (wbxml.Tag{}) {
		return &reply{status: 449, easStatus: status}
	}
	return statusReply(r.cmd, status)
}

func (s *Server) handleProvision(ctx context.Context, r *request) (*reply, error) {
	var req ProvisionRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &ProvisionResponse{Status: ProvisionSuccess}
	now := s.cfg.Now()

	if req.DeviceInformation != nil && req.DeviceInformation.Set != nil {
		if err := s.store.SetDeviceInfo(ctx, r.user, r.q.DeviceID, req.DeviceInformation.Set.Info()); err != nil {
			return nil, fmt.Errorf("store device information: %w", err)
		}
		resp.DeviceInformation = &DeviceInformationStatus{Status: SettingsSuccess}
	}

	if ack := req.RemoteWipe; ack != nil || req.AccountOnlyWipe != nil {
		if ack == nil {
			ack = req.AccountOnlyWipe
		}
		if err := s.store.AckWipe(ctx, r.user, r.q.DeviceID, ack.Status, now); err != nil {
			return nil, fmt.Errorf("store wipe acknowledgement: %w", err)
		}
		r.log.Warn("device acknowledged remote wipe", zap.Int("wipeStatus", ack.Status))
		return &reply{body: resp, easStatus: resp.Status}, nil
	}

	if r.dev.Wipe.Requested {
		// The phone gets nothing but the wipe until it acknowledges it. An
		// account-only wipe needs 16.1; older protocols only know the full
		// wipe, which easgate never sends in its place.
		if r.dev.Wipe.AccountOnly {
			if !r.version().AtLeast(V161) {
				r.log.Warn("account-only wipe pending but the device speaks " + r.version().String())
				resp.Status = ProvisionProtocolError
				return &reply{body: resp, easStatus: resp.Status}, nil
			}
			resp.AccountOnlyWipe = true
		} else {
			resp.RemoteWipe = true
		}
		r.log.Warn("sending remote wipe", zap.Bool("accountOnly", r.dev.Wipe.AccountOnly))
		return &reply{body: resp, easStatus: resp.Status}, nil
	}

	if req.Policies == nil || len(req.Policies.Policy) == 0 {
		resp.Status = ProvisionProtocolError
		return &reply{body: resp, easStatus: resp.Status}, nil
	}
	p := req.Policies.Policy[0]
	out := Policy{PolicyType: p.PolicyType}
	switch {
	case p.PolicyType != PolicyTypeWBXML:
		out.Status = PolicyUnknownType
	case p.PolicyKey == "":
		// Phase one: hand out the policy with a temporary key.
		key := newPolicyKey()
		if err := s.store.SetPolicyKeys(ctx, r.user, r.q.DeviceID, key, r.dev.PolicyKey); err != nil {
			return nil, fmt.Errorf("store policy key: %w", err)
		}
		out.Status = PolicySuccess
		out.PolicyKey = strconv.FormatUint(uint64(key), 10)
		out.Data = &PolicyData{Doc: PermissivePolicy()}
	default:
		// Phase two: the phone acknowledges with the temporary key. The
		// policy asks nothing, so any outcome it reports is acceptable.
		k, err := strconv.ParseUint(p.PolicyKey, 10, 32)
		if err != nil || uint32(k) != r.dev.PendingPolicyKey || k == 0 {
			// A repeated acknowledgement of the final key (the answer was
			// lost) gets the same key again.
			if err == nil && k != 0 && uint32(k) == r.dev.PolicyKey {
				out.Status = PolicySuccess
				out.PolicyKey = p.PolicyKey
				break
			}
			out.Status = PolicyWrongKeyAckd
			break
		}
		final := newPolicyKey()
		if err := s.store.SetPolicyKeys(ctx, r.user, r.q.DeviceID, 0, final); err != nil {
			return nil, fmt.Errorf("store policy key: %w", err)
		}
		out.Status = PolicySuccess
		out.PolicyKey = strconv.FormatUint(uint64(final), 10)
		r.log.Info("device provisioned", zap.Int("clientPolicyStatus", p.Status))
	}
	resp.Policies = &Policies{Policy: []Policy{out}}
	return &reply{body: resp, easStatus: resp.Status}, nil
}
