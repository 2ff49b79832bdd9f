package easclient

import (
	"context"
	"fmt"
	"strconv"

	"github.com/easgate/easgate/eas"
)

// ProvisionError is a Provision that did not end with a policy key.
type ProvisionError struct {
	Phase  int
	Status int
	Policy int
}

func (e *ProvisionError) Error() string {
	return fmt.Sprintf("provision phase %d: status %d, policy status %d", e.Phase, e.Status, e.Policy)
}

// Provision runs both phases and keeps the final policy key. With 14.1 and
// later it sends DeviceInformation in the first phase, as MS-ASPROV wants.
func (c *Client) Provision(ctx context.Context, info *eas.DeviceInformationSet) (*eas.ProvisionResponse, error) {
	c.PolicyKey = 0
	req := eas.ProvisionRequest{Policies: &eas.PolicyAcks{Policy: []eas.PolicyAck{{PolicyType: eas.PolicyTypeWBXML}}}}
	if c.Version.AtLeast(eas.V141) {
		if info == nil {
			info = &eas.DeviceInformationSet{Model: "iPhone", OS: "iOS 18.1", UserAgent: c.UserAgent, FriendlyName: "Test iPhone"}
		}
		req.DeviceInformation = &eas.DeviceInformation{Set: info}
	}
	var first eas.ProvisionResponse
	if _, err := c.Do(ctx, "Provision", &req, &first); err != nil {
		return nil, err
	}
	if first.RemoteWipe || first.AccountOnlyWipe {
		return &first, nil
	}
	if first.Status != eas.ProvisionSuccess || first.Policies == nil || len(first.Policies.Policy) == 0 ||
		first.Policies.Policy[0].Status != eas.PolicySuccess {
		ps := 0
		if first.Policies != nil && len(first.Policies.Policy) > 0 {
			ps = first.Policies.Policy[0].Status
		}
		return &first, &ProvisionError{Phase: 1, Status: first.Status, Policy: ps}
	}
	temp := first.Policies.Policy[0].PolicyKey
	ack := eas.ProvisionRequest{Policies: &eas.PolicyAcks{Policy: []eas.PolicyAck{{
		PolicyType: eas.PolicyTypeWBXML, PolicyKey: temp, Status: eas.PolicySuccess}}}}
	var second eas.ProvisionResponse
	if _, err := c.Do(ctx, "Provision", &ack, &second); err != nil {
		return nil, err
	}
	if second.Status != eas.ProvisionSuccess || second.Policies == nil || len(second.Policies.Policy) == 0 ||
		second.Policies.Policy[0].Status != eas.PolicySuccess {
		ps := 0
		if second.Policies != nil && len(second.Policies.Policy) > 0 {
			ps = second.Policies.Policy[0].Status
		}
		return &second, &ProvisionError{Phase: 2, Status: second.Status, Policy: ps}
	}
	k, err := strconv.ParseUint(second.Policies.Policy[0].PolicyKey, 10, 32)
	if err != nil {
		return &second, fmt.Errorf("final policy key %q: %w", second.Policies.Policy[0].PolicyKey, err)
	}
	c.PolicyKey = uint32(k)
	return &first, nil
}

// AckWipe answers a remote wipe (status 1: wiped).
func (c *Client) AckWipe(ctx context.Context, accountOnly bool, status int) (*eas.ProvisionResponse, error) {
	req := eas.ProvisionRequest{}
	if accountOnly {
		req.AccountOnlyWipe = &eas.WipeAck{Status: status}
	} else {
		req.RemoteWipe = &eas.WipeAck{Status: status}
	}
	var resp eas.ProvisionResponse
	_, err := c.Do(ctx, "Provision", &req, &resp)
	return &resp, err
}

// FolderSync asks for the hierarchy changes since key ("0": everything).
func (c *Client) FolderSync(ctx context.Context, key string) (*eas.FolderSyncResponse, error) {
	var resp eas.FolderSyncResponse
	_, err := c.Do(ctx, "FolderSync", &eas.FolderSyncRequest{SyncKey: key}, &resp)
	return &resp, err
}

// Settings sends a Settings request.
func (c *Client) Settings(ctx context.Context, req *eas.SettingsRequest) (*eas.SettingsResponse, error) {
	var resp eas.SettingsResponse
	_, err := c.Do(ctx, "Settings", req, &resp)
	return &resp, err
}
