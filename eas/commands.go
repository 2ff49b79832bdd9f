package eas

// register lists the commands the server implements. A command's handler
// lives in the file named after it.
func (s *Server) register() {
	s.add(&command{name: "Provision", root: root("Provision", "Provision"), handle: s.handleProvision})
	s.add(&command{name: "Settings", root: root("Settings", "Settings"), provisioned: true, handle: s.handleSettings})
	s.add(&command{name: "FolderSync", root: root("FolderHierarchy", "FolderSync"), provisioned: true, handle: s.handleFolderSync})
}
