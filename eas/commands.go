package eas

// register lists the commands the server implements. A command's handler
// lives in the file named after it.
func (s *Server) register() {
	s.add(&command{name: "Provision", root: root("Provision", "Provision"), handle: s.handleProvision})
	s.add(&command{name: "Settings", root: root("Settings", "Settings"), provisioned: true, handle: s.handleSettings})
	s.add(&command{name: "FolderSync", root: root("FolderHierarchy", "FolderSync"), provisioned: true, handle: s.handleFolderSync})
	s.add(&command{name: "Sync", root: root("AirSync", "Sync"), provisioned: true, supersedes: true, takesPrefetch: true, handle: s.handleSync})
	// AOSP sends Ping without X-MS-PolicyKey; checkPolicy lets that pass.
	s.add(&command{name: "Ping", root: root("Ping", "Ping"), provisioned: true, supersedes: true, handle: s.handlePing})
	s.add(&command{name: "GetItemEstimate", root: root("GetItemEstimate", "GetItemEstimate"), provisioned: true, handle: s.handleGetItemEstimate})
	s.add(&command{name: "ItemOperations", root: root("ItemOperations", "ItemOperations"), provisioned: true, handle: s.handleItemOperations})
	s.add(&command{name: "MoveItems", root: root("Move", "MoveItems"), provisioned: true, handle: s.handleMoveItems})
	s.add(&command{name: "Search", root: root("Search", "Search"), provisioned: true, handle: s.handleSearch})
	s.add(&command{name: "ResolveRecipients", root: root("ResolveRecipients", "ResolveRecipients"), provisioned: true, handle: s.handleResolveRecipients})
	s.add(&command{name: "Find", root: root("Find", "Find"), provisioned: true, handle: s.handleFind})
	s.add(&command{name: "GetAttachment", provisioned: true, handle: s.handleGetAttachment})
	s.add(&command{name: "SendMail", root: root("ComposeMail", "SendMail"), provisioned: true, handle: s.handleSendMail})
	s.add(&command{name: "SmartReply", root: root("ComposeMail", "SmartReply"), provisioned: true, handle: s.handleSmartReply})
	s.add(&command{name: "SmartForward", root: root("ComposeMail", "SmartForward"), provisioned: true, handle: s.handleSmartForward})
	s.add(&command{name: "FolderCreate", root: root("FolderHierarchy", "FolderCreate"), provisioned: true, handle: s.handleFolderCreate})
	s.add(&command{name: "FolderUpdate", root: root("FolderHierarchy", "FolderUpdate"), provisioned: true, handle: s.handleFolderUpdate})
	s.add(&command{name: "FolderDelete", root: root("FolderHierarchy", "FolderDelete"), provisioned: true, handle: s.handleFolderDelete})
	if answersMeetings(s.backend) {
		s.add(&command{name: "MeetingResponse", root: root("MeetingResponse", "MeetingResponse"), provisioned: true, handle: s.handleMeetingResponse})
	}
}
