package eas_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// TestHostileRequests sends every command bodies that are valid WBXML but
// leave out what the command needs, repeat what must be single, or put
// elements where they do not belong. Each must get a clean answer: HTTP 200
// with a status, or HTTP 400; never a server error or a dropped connection.
func TestHostileRequests(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "one", time.Now())
	key, _ := g.primed(t, g.phone, inbox)
	coll := func(inner string) string {
		return `<Sync xmlns="AirSync" xmlns:email="Email" xmlns:airsyncbase="AirSyncBase"><Collections><Collection><SyncKey>` + key +
			`</SyncKey><CollectionId>` + inbox + `</CollectionId>` + inner + `</Collection></Collections></Sync>`
	}
	deep := strings.Repeat("<And>", 25) + strings.Repeat("</And>", 25)
	tests := []struct {
		cmd, doc string
	}{
		{"Provision", `<Provision xmlns="Provision"/>`},
		{"Provision", `<Provision xmlns="Provision"><Policies/></Provision>`},
		{"Provision", `<Provision xmlns="Provision"><Policies><Policy/></Policies></Provision>`},
		{"Provision", `<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>x</PolicyKey><Status>1</Status></Policy></Policies></Provision>`},
		{"Provision", `<Provision xmlns="Provision" xmlns:settings="Settings"><settings:DeviceInformation/></Provision>`},
		{"Provision", `<Provision xmlns="Provision"><RemoteWipe/></Provision>`},
		{"Provision", `<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy><Policy><PolicyType>MS-WAP-Provisioning-XML</PolicyType></Policy></Policies></Provision>`},
		{"Settings", `<Settings xmlns="Settings"/>`},
		{"Settings", `<Settings xmlns="Settings"><Oof/><DeviceInformation/><UserInformation/><DevicePassword/></Settings>`},
		{"Settings", `<Settings xmlns="Settings"><Oof><Set/></Oof><DevicePassword><Set/></DevicePassword></Settings>`},
		{"FolderSync", `<FolderSync xmlns="FolderHierarchy"/>`},
		{"FolderSync", `<FolderSync xmlns="FolderHierarchy"><SyncKey/></FolderSync>`},
		{"FolderCreate", `<FolderCreate xmlns="FolderHierarchy"/>`},
		{"FolderCreate", `<FolderCreate xmlns="FolderHierarchy"><SyncKey>0</SyncKey><ParentId/><DisplayName/><Type/></FolderCreate>`},
		{"FolderUpdate", `<FolderUpdate xmlns="FolderHierarchy"/>`},
		{"FolderUpdate", `<FolderUpdate xmlns="FolderHierarchy"><SyncKey>x</SyncKey><ServerId>` + inbox + `</ServerId><ParentId>` + inbox + `</ParentId><DisplayName>x</DisplayName></FolderUpdate>`},
		{"FolderDelete", `<FolderDelete xmlns="FolderHierarchy"/>`},
		{"Sync", `<Sync xmlns="AirSync"/>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections/></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection/></Collections></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId><Commands/></Collection></Collections></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId><Commands><Change/><Delete/><Fetch/><Add/></Commands></Collection></Collections></Sync>`},
		{"Sync", `<Sync xmlns="AirSync" xmlns:email="Email"><Collections><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId><Commands><Change><ServerId>` + inbox + `:1</ServerId><ApplicationData><email:Flag><email:Status>9</email:Status></email:Flag></ApplicationData></Change></Commands></Collection></Collections></Sync>`},
		{"Sync", `<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId><Options><airsyncbase:BodyPreference/><MIMESupport>7</MIMESupport><MIMETruncation>99</MIMETruncation><FilterType>42</FilterType></Options></Collection></Collections></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>` + inbox + `</CollectionId></Collection></Collections><Wait>0</Wait></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Partial/></Sync>`},
		{"Sync", coll(`<Commands><Change><ServerId>` + inbox + `:1</ServerId><ApplicationData><email:Categories><email:Category/></email:Categories><email:Flag/></ApplicationData></Change></Commands>`)},
		{"Sync", coll(`<Commands><Change><ServerId>0:1</ServerId></Change><Delete><ServerId>` + inbox + `:</ServerId></Delete><Fetch><ServerId>` + inbox + `:x</ServerId></Fetch></Commands>`)},
		{"Sync", coll(`<WindowSize>-5</WindowSize><DeletesAsMoves/><GetChanges/>`)},
		{"Sync", coll(`<Options><Class>SMS</Class></Options><Options><Class>Email</Class><airsyncbase:BodyPreference><airsyncbase:Type>9</airsyncbase:Type><airsyncbase:Preview>99999</airsyncbase:Preview></airsyncbase:BodyPreference></Options>`)},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId></Collection><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId></Collection></Collections><Wait>5</Wait><HeartbeatInterval>60</HeartbeatInterval></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection><SyncKey>` + key + `</SyncKey><CollectionId>` + inbox + `</CollectionId></Collection></Collections><HeartbeatInterval>-1</HeartbeatInterval></Sync>`},
		{"Sync", `<Sync xmlns="AirSync"><Collections><Collection><Class>Calendar</Class><SyncKey>0</SyncKey><CollectionId>` + inbox + `</CollectionId></Collection></Collections></Sync>`},
		{"GetItemEstimate", `<GetItemEstimate xmlns="GetItemEstimate"/>`},
		{"GetItemEstimate", `<GetItemEstimate xmlns="GetItemEstimate"><Collections><Collection/></Collections></GetItemEstimate>`},
		{"ItemOperations", `<ItemOperations xmlns="ItemOperations"/>`},
		{"ItemOperations", `<ItemOperations xmlns="ItemOperations"><Fetch/><EmptyFolderContents/><Move/></ItemOperations>`},
		{"ItemOperations", `<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase"><Fetch><Store>Mailbox</Store><airsyncbase:FileReference/><Options><Range>9-1</Range></Options></Fetch></ItemOperations>`},
		{"ItemOperations", `<ItemOperations xmlns="ItemOperations" xmlns:search="Search"><Fetch><Store>Mailbox</Store><search:LongId>::</search:LongId></Fetch></ItemOperations>`},
		{"ItemOperations", `<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase" xmlns:search="Search"><Fetch><Store>Mailbox</Store><airsyncbase:FileReference>x</airsyncbase:FileReference><search:LongId>` + inbox + `:1</search:LongId><airsync:CollectionId>` + inbox + `</airsync:CollectionId></Fetch><EmptyFolderContents><airsync:CollectionId>999</airsync:CollectionId></EmptyFolderContents></ItemOperations>`},
		{"MoveItems", `<MoveItems xmlns="Move"/>`},
		{"MoveItems", `<MoveItems xmlns="Move"><Move><SrcMsgId>0:1</SrcMsgId><SrcFldId>` + inbox + `</SrcFldId><DstFldId>` + inbox + `</DstFldId></Move></MoveItems>`},
		{"MoveItems", `<MoveItems xmlns="Move"><Move/></MoveItems>`},
		{"Search", `<Search xmlns="Search"/>`},
		{"Search", `<Search xmlns="Search"><Store/></Search>`},
		{"Search", `<Search xmlns="Search"><Store><Name>Mailbox</Name><Query><And><GreaterThan/></And></Query><Options><Range>x</Range></Options></Store></Search>`},
		{"Search", `<Search xmlns="Search"><Store><Name>Mailbox</Name><Query>` + deep + `</Query></Store></Search>`},
		{"Search", `<Search xmlns="Search" xmlns:airsync="AirSync"><Store><Name>Mailbox</Name><Query><And><airsync:CollectionId>999</airsync:CollectionId></And></Query><Options><DeepTraversal/><Range>5-1</Range></Options></Store></Search>`},
		{"Search", `<Search xmlns="Search"><Store><Name>GAL</Name><Query>anna</Query><Options><Range>0-99999999999</Range></Options></Store></Search>`},
		{"Find", `<Find xmlns="Find"/>`},
		{"Find", `<Find xmlns="Find"><SearchId/><ExecuteSearch><MailBoxSearchCriterion/></ExecuteSearch></Find>`},
		{"Ping", `<Ping xmlns="Ping"/>`},
		{"Ping", `<Ping xmlns="Ping"><Folders><Folder/></Folders></Ping>`},
		{"Ping", `<Ping xmlns="Ping"><HeartbeatInterval>abc</HeartbeatInterval></Ping>`},
		{"Ping", `<Ping xmlns="Ping"><HeartbeatInterval>99999999999999999999</HeartbeatInterval><Folders><Folder><Id>` + inbox + `</Id></Folder></Folders></Ping>`},
		{"SendMail", `<SendMail xmlns="ComposeMail"/>`},
		{"SmartReply", `<SmartReply xmlns="ComposeMail"><Source/></SmartReply>`},
		{"SmartForward", `<SmartForward xmlns="ComposeMail"><Forwardees><Forwardee/></Forwardees></SmartForward>`},
	}
	for _, tt := range tests {
		_, err := postXML(t, g.phone, tt.cmd, tt.doc)
		var he *easclient.HTTPError
		switch {
		case err == nil:
		case errors.As(err, &he) && he.Code == http.StatusBadRequest:
		default:
			t.Errorf("%s %s: %v", tt.cmd, tt.doc, err)
		}
	}
}
