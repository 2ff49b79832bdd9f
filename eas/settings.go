package eas

import (
	"context"
	"fmt"

	"github.com/easgate/easgate/wbxml"
)

// SettingsRequest is the Settings command's request (MS-ASCMD 2.2.1.18).
type SettingsRequest struct {
	XMLName           wbxml.Name         `wbxml:"Settings:Settings"`
	Oof               *OofRequest        `wbxml:"Oof,omitempty"`
	DevicePassword    *DevicePassword    `wbxml:"DevicePassword,omitempty"`
	DeviceInformation *DeviceInformation `wbxml:"DeviceInformation,omitempty"`
	UserInformation   *UserInfoRequest   `wbxml:"UserInformation,omitempty"`
	RightsManagement  *RightsMgmtRequest `wbxml:"RightsManagementInformation,omitempty"`
}

// DevicePassword is the recovery password a phone may store.
type DevicePassword struct {
	Set *struct {
		Password string `wbxml:"Password"`
	} `wbxml:"Set,omitempty"`
}

// DeviceInformation carries DeviceInformation Set, in Settings or in the
// initial Provision of 14.1 and later.
type DeviceInformation struct {
	Set *DeviceInformationSet `wbxml:"Settings:Set,omitempty"`
}

// DeviceInformationSet is what a phone tells about itself.
type DeviceInformationSet struct {
	Model             string `wbxml:"Settings:Model,omitempty"`
	IMEI              string `wbxml:"Settings:IMEI,omitempty"`
	FriendlyName      string `wbxml:"Settings:FriendlyName,omitempty"`
	OS                string `wbxml:"Settings:OS,omitempty"`
	OSLanguage        string `wbxml:"Settings:OSLanguage,omitempty"`
	PhoneNumber       string `wbxml:"Settings:PhoneNumber,omitempty"`
	UserAgent         string `wbxml:"Settings:UserAgent,omitempty"`
	EnableOutboundSMS string `wbxml:"Settings:EnableOutboundSMS,omitempty"`
	MobileOperator    string `wbxml:"Settings:MobileOperator,omitempty"`
}

// Info converts the wire form to the stored one.
func (s *DeviceInformationSet) Info() DeviceInfo {
	return DeviceInfo{
		Model: s.Model, IMEI: s.IMEI, FriendlyName: s.FriendlyName, OS: s.OS,
		OSLanguage: s.OSLanguage, PhoneNumber: s.PhoneNumber, UserAgent: s.UserAgent,
		MobileOperator: s.MobileOperator, EnableOutbound: s.EnableOutboundSMS,
	}
}

// DeviceInformationStatus answers a DeviceInformation Set.
type DeviceInformationStatus struct {
	Status int `wbxml:"Settings:Status"`
}

// UserInfoRequest asks for the user's addresses.
type UserInfoRequest struct {
	Get bool `wbxml:"Get,empty"`
}

// RightsMgmtRequest asks for IRM templates; easgate has none.
type RightsMgmtRequest struct {
	Get bool `wbxml:"Get,empty"`
}

// SettingsResponse is the Settings command's response.
type SettingsResponse struct {
	XMLName           wbxml.Name               `wbxml:"Settings:Settings"`
	Status            int                      `wbxml:"Status"`
	Oof               *OofResponse             `wbxml:"Oof,omitempty"`
	DevicePassword    *SettingsStatus          `wbxml:"DevicePassword,omitempty"`
	DeviceInformation *DeviceInformationStatus `wbxml:"DeviceInformation,omitempty"`
	UserInformation   *UserInfoResponse        `wbxml:"UserInformation,omitempty"`
	RightsManagement  *SettingsStatus          `wbxml:"RightsManagementInformation,omitempty"`
}

// SettingsStatus is a bare per-setting status.
type SettingsStatus struct {
	Status int `wbxml:"Status"`
}

// UserInfoResponse carries the user's addresses: EmailAddresses up to 14.0,
// Accounts from 14.1.
type UserInfoResponse struct {
	Status int              `wbxml:"Status"`
	Get    *UserInfoDetails `wbxml:"Get,omitempty"`
}

// UserInfoDetails holds either form.
type UserInfoDetails struct {
	EmailAddresses *EmailAddresses `wbxml:"EmailAddresses,omitempty"`
	Accounts       *Accounts       `wbxml:"Accounts,omitempty"`
}

// EmailAddresses lists SMTP addresses.
type EmailAddresses struct {
	SMTPAddress        []string `wbxml:"SMTPAddress,omitempty"`
	PrimarySMTPAddress string   `wbxml:"PrimarySmtpAddress,omitempty"`
}

// Accounts lists the user's accounts (one for easgate).
type Accounts struct {
	Account []Account `wbxml:"Account"`
}

// Account is one account of UserInformation (14.1+).
type Account struct {
	AccountID       string          `wbxml:"AccountId,omitempty"`
	AccountName     string          `wbxml:"AccountName,omitempty"`
	UserDisplayName string          `wbxml:"UserDisplayName,omitempty"`
	SendDisabled    bool            `wbxml:"SendDisabled,omitempty"`
	EmailAddresses  *EmailAddresses `wbxml:"EmailAddresses,omitempty"`
}

func (s *Server) handleSettings(ctx context.Context, r *request) (*reply, error) {
	var req SettingsRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &SettingsResponse{Status: SettingsSuccess}
	if di := req.DeviceInformation; di != nil {
		st := SettingsSuccess
		if di.Set == nil {
			st = SettingsProtocolError
		} else if err := s.store.SetDeviceInfo(ctx, r.user, r.q.DeviceID, di.Set.Info()); err != nil {
			return nil, fmt.Errorf("store device information: %w", err)
		}
		resp.DeviceInformation = &DeviceInformationStatus{Status: st}
	}
	if req.DevicePassword != nil {
		// The recovery password is not kept: easgate has no way to give it
		// back, and storing it would only be a liability.
		resp.DevicePassword = &SettingsStatus{Status: SettingsSuccess}
	}
	if o := req.Oof; o != nil {
		resp.Oof = s.oof(ctx, r, o)
	}
	if ui := req.UserInformation; ui != nil {
		mb, err := r.mailbox(ctx)
		if err != nil {
			return nil, err
		}
		addr := mb.PrimaryAddress()
		out := &UserInfoResponse{Status: SettingsSuccess, Get: &UserInfoDetails{}}
		if r.version().AtLeast(V141) {
			out.Get.Accounts = &Accounts{Account: []Account{{
				AccountName: addr, UserDisplayName: addr,
				EmailAddresses: &EmailAddresses{PrimarySMTPAddress: addr, SMTPAddress: []string{addr}},
			}}}
		} else {
			out.Get.EmailAddresses = &EmailAddresses{SMTPAddress: []string{addr}}
		}
		resp.UserInformation = out
	}
	if req.RightsManagement != nil {
		resp.RightsManagement = &SettingsStatus{Status: SettingsSuccess}
	}
	return &reply{body: resp, easStatus: resp.Status}, nil
}
