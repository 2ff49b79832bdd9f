package eas

import "time"

// Contact is the ApplicationData of a Contacts-class item (MS-ASCNTC) in
// every version easgate offers (12.1 to 16.1): a full item in Sync Add,
// Fetch and Search results, and a phone's Add or Change. An empty string is
// an absent element: EAS clears a field by leaving it out (MS-ASCMD
// 2.2.3.179), never with an empty element.
//
// Field order follows the code page; MS-ASCNTC does not fix an order and
// clients read the elements in any.
type Contact struct {
	Anniversary          time.Time `wbxml:"Contacts:Anniversary,omitempty"`
	AssistantName        string    `wbxml:"Contacts:AssistantName,omitempty"`
	AssistantPhoneNumber string    `wbxml:"Contacts:AssistantPhoneNumber,omitempty"`
	Birthday             time.Time `wbxml:"Contacts:Birthday,omitempty"`

	// Body is the note (12.0 and later use AirSyncBase, never the
	// Contacts:Body of 2.5).
	Body *Body `wbxml:"AirSyncBase:Body,omitempty"`

	Business2PhoneNumber      string `wbxml:"Contacts:Business2PhoneNumber,omitempty"`
	BusinessAddressCity       string `wbxml:"Contacts:BusinessAddressCity,omitempty"`
	BusinessAddressCountry    string `wbxml:"Contacts:BusinessAddressCountry,omitempty"`
	BusinessAddressPostalCode string `wbxml:"Contacts:BusinessAddressPostalCode,omitempty"`
	BusinessAddressState      string `wbxml:"Contacts:BusinessAddressState,omitempty"`
	BusinessAddressStreet     string `wbxml:"Contacts:BusinessAddressStreet,omitempty"`
	BusinessFaxNumber         string `wbxml:"Contacts:BusinessFaxNumber,omitempty"`
	BusinessPhoneNumber       string `wbxml:"Contacts:BusinessPhoneNumber,omitempty"`
	CarPhoneNumber            string `wbxml:"Contacts:CarPhoneNumber,omitempty"`
	// Categories: nil is absent; a present, empty list clears them.
	Categories  *ContactCategories `wbxml:"Contacts:Categories,omitempty"`
	Children    *ContactChildren   `wbxml:"Contacts:Children,omitempty"`
	CompanyName string             `wbxml:"Contacts:CompanyName,omitempty"`
	Department  string             `wbxml:"Contacts:Department,omitempty"`
	// Email1Address..Email3Address: servers send the bare address; phones
	// (AOSP for 12.0+) may send `"Name" <addr>`.
	Email1Address string `wbxml:"Contacts:Email1Address,omitempty"`
	Email2Address string `wbxml:"Contacts:Email2Address,omitempty"`
	Email3Address string `wbxml:"Contacts:Email3Address,omitempty"`
	FileAs        string `wbxml:"Contacts:FileAs,omitempty"`
	FirstName     string `wbxml:"Contacts:FirstName,omitempty"`

	Home2PhoneNumber      string `wbxml:"Contacts:Home2PhoneNumber,omitempty"`
	HomeAddressCity       string `wbxml:"Contacts:HomeAddressCity,omitempty"`
	HomeAddressCountry    string `wbxml:"Contacts:HomeAddressCountry,omitempty"`
	HomeAddressPostalCode string `wbxml:"Contacts:HomeAddressPostalCode,omitempty"`
	HomeAddressState      string `wbxml:"Contacts:HomeAddressState,omitempty"`
	HomeAddressStreet     string `wbxml:"Contacts:HomeAddressStreet,omitempty"`
	HomeFaxNumber         string `wbxml:"Contacts:HomeFaxNumber,omitempty"`
	HomePhoneNumber       string `wbxml:"Contacts:HomePhoneNumber,omitempty"`
	JobTitle              string `wbxml:"Contacts:JobTitle,omitempty"`
	LastName              string `wbxml:"Contacts:LastName,omitempty"`
	MiddleName            string `wbxml:"Contacts:MiddleName,omitempty"`
	MobilePhoneNumber     string `wbxml:"Contacts:MobilePhoneNumber,omitempty"`
	OfficeLocation        string `wbxml:"Contacts:OfficeLocation,omitempty"`

	OtherAddressCity       string `wbxml:"Contacts:OtherAddressCity,omitempty"`
	OtherAddressCountry    string `wbxml:"Contacts:OtherAddressCountry,omitempty"`
	OtherAddressPostalCode string `wbxml:"Contacts:OtherAddressPostalCode,omitempty"`
	OtherAddressState      string `wbxml:"Contacts:OtherAddressState,omitempty"`
	OtherAddressStreet     string `wbxml:"Contacts:OtherAddressStreet,omitempty"`
	PagerNumber            string `wbxml:"Contacts:PagerNumber,omitempty"`
	RadioPhoneNumber       string `wbxml:"Contacts:RadioPhoneNumber,omitempty"`
	Spouse                 string `wbxml:"Contacts:Spouse,omitempty"`
	Suffix                 string `wbxml:"Contacts:Suffix,omitempty"`
	// Title is the honorific prefix ("Dr."), not the job title.
	Title           string `wbxml:"Contacts:Title,omitempty"`
	WebPage         string `wbxml:"Contacts:WebPage,omitempty"`
	YomiCompanyName string `wbxml:"Contacts:YomiCompanyName,omitempty"`
	YomiFirstName   string `wbxml:"Contacts:YomiFirstName,omitempty"`
	YomiLastName    string `wbxml:"Contacts:YomiLastName,omitempty"`
	// Picture is the base64 text of the photo: at most PictureMaxSize
	// characters from the server (MS-ASCNTC 2.2.2.58), at most
	// PhonePictureMaxSize from a phone.
	Picture string `wbxml:"Contacts:Picture,omitempty"`

	// Contacts2 code page.
	CustomerID       string `wbxml:"Contacts2:CustomerId,omitempty"`
	GovernmentID     string `wbxml:"Contacts2:GovernmentId,omitempty"`
	IMAddress        string `wbxml:"Contacts2:IMAddress,omitempty"`
	IMAddress2       string `wbxml:"Contacts2:IMAddress2,omitempty"`
	IMAddress3       string `wbxml:"Contacts2:IMAddress3,omitempty"`
	ManagerName      string `wbxml:"Contacts2:ManagerName,omitempty"`
	CompanyMainPhone string `wbxml:"Contacts2:CompanyMainPhone,omitempty"`
	AccountName      string `wbxml:"Contacts2:AccountName,omitempty"`
	NickName         string `wbxml:"Contacts2:NickName,omitempty"`
	MMS              string `wbxml:"Contacts2:MMS,omitempty"`
}

// PictureMaxSize is the longest Picture a server sends: 48 KB of base64
// text (MS-ASCNTC 2.2.2.58).
const PictureMaxSize = 48 * 1024

// PhonePictureMaxSize is the longest Picture a phone's Add or Change may
// carry; a larger one gets item Status 6. Phones do not keep to the 48 KB
// of MS-ASCNTC ("not followed by the ActiveSync clients, which set much
// bigger contact photos": Z-Push and grommunio-sync accept 5 MB for that
// reason), and refusing the photo refuses the whole contact.
const PhonePictureMaxSize = 5 << 20

// ContactCategories are a contact's categories (at most 300).
type ContactCategories struct {
	Category []string `wbxml:"Contacts:Category"`
}

// ContactChildren are the names of a contact's children (at most 300).
type ContactChildren struct {
	Child []string `wbxml:"Contacts:Child"`
}

// Class of a contact is ClassContacts.
func (*Contact) Class() Class { return ClassContacts }

// contactCodec: every Contacts element exists in every version easgate
// offers. A phone's Change carries the whole contact, but AOSP leaves out
// Body, Categories and Children (they are not in its Supported list), and
// a phone that never got a Picture (too large) sends none: those are kept
// when left out rather than cleared, since a phone's silence must not
// delete what it cannot show. iOS sends no Supported list and shows fewer
// fields still: iosContactEdits.
var contactCodec = &classCodec{
	newItem:     func() Item { return &Contact{} },
	ghostable:   []string{"Body", "Categories", "Children", "Picture"},
	minVersion:  V121,
	clientEdits: contactEdits,
}

// contactEdits names the Contacts elements a client without a Supported
// list is known to show and send back; nil for a client not known.
func contactEdits(c ClientIdentity) []string {
	if low := c.lower(); isIOS(low) && !isNine(low) {
		return iosContactEdits
	}
	return nil
}

// iosContactEdits are the elements the iOS client shows, edits and sends
// back in a Change whenever they hold a value, so that one left out was
// deleted on the phone: the names, company, the three e-mail addresses,
// the phones of its labels (mobile, home, work, their faxes, pager), the
// three addresses, the birthday and the web page.
//
// Every other element is kept when a Change leaves it out. iOS sends no
// Supported list, and the MS-ASCMD reading (clear whatever is left out)
// deletes upstream what iOS has no place for whenever the user edits
// anything else: an Outlook contact's assistant, car, company main and
// radio phones and its office never reach an iPhone, and iOS 4 left the
// Picture out of its edits (Horde ghosts it for that reason). Z-Push and
// grommunio-sync clear nothing a client without a list leaves out
// (UNSET_UNDEFINED_PROPERTIES off by default). So the Yomi names, Spouse,
// Anniversary, the assistant and manager, the car, radio, company main
// and MMS numbers, OfficeLocation, the IM addresses, CustomerId,
// GovernmentId and AccountName are kept; a user who deletes one of them
// on the phone sees it come back, which is better than losing it.
// FileAs is kept too: FN then stays, a name the user gave ("Mom")
// included, and an FN made of the names follows them upstream.
var iosContactEdits = []string{
	"FirstName", "LastName", "MiddleName", "Title", "Suffix", "NickName",
	"CompanyName", "Department", "JobTitle",
	"Email1Address", "Email2Address", "Email3Address",
	"MobilePhoneNumber", "HomePhoneNumber", "Home2PhoneNumber", "BusinessPhoneNumber",
	"Business2PhoneNumber", "HomeFaxNumber", "BusinessFaxNumber", "PagerNumber",
	"HomeAddressStreet", "HomeAddressCity", "HomeAddressState", "HomeAddressPostalCode", "HomeAddressCountry",
	"BusinessAddressStreet", "BusinessAddressCity", "BusinessAddressState", "BusinessAddressPostalCode",
	"BusinessAddressCountry",
	"OtherAddressStreet", "OtherAddressCity", "OtherAddressState", "OtherAddressPostalCode", "OtherAddressCountry",
	"Birthday", "WebPage",
}
