package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// stringsFlag is a flag that may be given several times; it keeps every
// value, in order.
type stringsFlag []string

// String returns the values joined by commas.
func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

// Set adds a value.
func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// parseFlags parses args with fs. It returns flag.ErrHelp when help was asked
// for (fs printed its usage; the command should exit 0), and errUsage, after
// printing the usage, for a flag error or a stray argument.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// parseHeaders reads 'Name: value' lines into a header; a name may repeat.
// Errors name the line by its position only: a header may hold a credential.
func parseHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("--header number %d is not 'Name: value'", i+1)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	return h, nil
}
