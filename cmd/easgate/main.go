// Command easgate is an Exchange ActiveSync gateway in front of an IMAP
// mail server, and a few tools around it.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

const usage = `usage: easgate <command> [arguments]

commands:
  serve --imap HOST:PORT [flags]   run the gateway (see easgate serve -h)
  demo [--listen ADDR]             run the gateway in front of a demo mail server
  admin devices|show|reset|wipe|delete|trace ...   manage devices over the admin API
  db copy --from DB --to DB        copy the state to another database (SQLite file or postgres:// URL)
  probe --user ADDR [--url URL]    act as a phone against any EAS server and report each step
  wbxml decode [-compact] [FILE]   print a WBXML document as XML
  wbxml encode [FILE]              turn XML (easgate's or wbxml2xml's) into WBXML
  version                          print the version and how the binary was built

FILE defaults to standard input; output goes to standard output.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit status:
// 0 success, 1 failure, 2 bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "admin":
		return runAdmin(args[1:], stdout, stderr)
	case "db":
		return runDB(args[1:], stdout, stderr)
	case "probe":
		return runProbe(args[1:], stdin, stdout, stderr)
	case "wbxml":
		return runWBXML(args[1:], stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprint(stdout, versionText(debug.ReadBuildInfo()))
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "easgate: unknown command %q\n%s", args[0], usage)
	return 2
}

// versionText describes the binary from its build information: module
// version, Go version, and the commit it was built from when known.
func versionText(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "easgate (no build information)\n"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "easgate %s\n", version)
	fmt.Fprintf(&b, "  go        %s\n", bi.GoVersion)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for _, k := range []string{"vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "CGO_ENABLED"} {
		if v, ok := settings[k]; ok {
			fmt.Fprintf(&b, "  %-9s %s\n", strings.TrimPrefix(k, "vcs."), v)
		}
	}
	return b.String()
}
