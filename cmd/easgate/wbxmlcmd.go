package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/easgate/easgate/wbxml"
)

// runWBXML converts between WBXML and XML: "decode" prints a WBXML
// document as indented XML, "encode" turns XML into WBXML. Bad input ends
// with status 1 and one line on stderr giving the byte offset.
func runWBXML(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: easgate wbxml decode [-compact] [FILE] | encode [FILE]\n")
		return 2
	}
	fs := flag.NewFlagSet("easgate wbxml "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var compact bool
	switch args[0] {
	case "decode":
		fs.BoolVar(&compact, "compact", false, "print the XML on one line instead of indented")
	case "encode":
	default:
		fmt.Fprintf(stderr, "easgate: wbxml: unknown subcommand %q (want decode or encode)\n", args[0])
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "easgate: wbxml %s: at most one FILE\n", args[0])
		return 2
	}
	// Both directions need the whole document; files are read at once
	// since their size is known.
	var data []byte
	var err error
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		data, err = os.ReadFile(fs.Arg(0))
	} else {
		data, err = io.ReadAll(stdin)
	}
	if err != nil {
		return fail(stderr, fmt.Errorf("wbxml: %w", err))
	}
	// Both writers buffer on their own, so stdout needs no bufio.
	if args[0] == "decode" {
		err = decodeWBXML(data, stdout, !compact)
	} else {
		err = encodeWBXML(data, stdout)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func decodeWBXML(data []byte, out io.Writer, indent bool) error {
	tree, err := wbxml.Parse(data)
	if err != nil {
		return err
	}
	return wbxml.WriteXML(out, tree, indent)
}

func encodeWBXML(data []byte, out io.Writer) error {
	tree, err := wbxml.ParseXML(bytes.NewReader(data))
	if err != nil {
		return err
	}
	enc := wbxml.NewEncoder(out)
	if err := enc.WriteElement(tree); err != nil {
		return err
	}
	return enc.Close()
}

// fail prints err as the single line the command promises and returns
// the failure status.
func fail(stderr io.Writer, err error) int {
	msg := err.Error()
	var se *wbxml.SyntaxError
	if errors.As(err, &se) {
		msg = se.Error()
	}
	msg = strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
	fmt.Fprintf(stderr, "easgate: %s\n", msg)
	return 1
}
