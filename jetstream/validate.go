package jetstream

// Checking a configuration before anything connects: a name, subject or
// header that NATS would refuse is refused here, with its field named,
// rather than failing every publish, or every consumer lookup, for ever.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
)

// validate checks what NewEndpoint needs of config.
func validate(name string, config Config) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: endpoint %q: %s", notifications.ErrInvalidConfig, name, fmt.Sprintf(format, args...))
	}
	if config.Conn == nil && strings.TrimSpace(config.URL) == "" {
		return invalid("neither URL nor Conn is set")
	}
	if !validSubject(config.SubjectPrefix, false) {
		return invalid("subject prefix %q is not dot-separated tokens of UTF-8 without wildcards", config.SubjectPrefix)
	}
	if len(config.SubjectPrefix) > MaxSubjectPrefixBytes {
		return invalid("subject prefix of %d bytes is longer than %d", len(config.SubjectPrefix), MaxSubjectPrefixBytes)
	}
	for name := range config.Endpoint.Headers {
		if strings.EqualFold(name, natsjs.MsgIDHeader) {
			return invalid("header %s is the event's ID, set per message", natsjs.MsgIDHeader)
		}
		if i := invalidHeaderNameByte(name); i >= 0 {
			// Quoted up to the byte NATS refuses: a name may be a whole
			// header pasted, its secret value after the colon.
			return invalid("header name beginning %q is not one NATS takes: printable ASCII without spaces nor any of %s (byte %d)", name[:i], headerNameForbidden, i+1)
		}
	}
	if s := config.CreateStream; s != nil {
		if !validName(s.Name) {
			return invalid("%s", nameError("stream", s.Name))
		}
		for _, subject := range s.Subjects {
			if !validSubject(subject, true) {
				return invalid("stream subject %q is not valid", subject)
			}
		}
		if s.Duplicates < 0 {
			return invalid("negative stream Duplicates %v", s.Duplicates)
		}
		if s.Duplicates > 0 && s.Duplicates < MinDuplicates {
			return invalid("stream Duplicates %v is shorter than %v, the least the server takes", s.Duplicates, MinDuplicates)
		}
		if s.Replicas < 0 || s.Replicas > MaxReplicas {
			return invalid("stream Replicas %d is not from 1 to %d", s.Replicas, MaxReplicas)
		}
	}
	return nil
}

// validSubject reports whether s is dot-separated non-empty tokens of
// UTF-8 without whitespace, as nats-server requires; wildcards ('*' tokens
// and a final '>') are allowed only when wildcards is true.
func validSubject(s string, wildcards bool) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "" || strings.ContainsAny(t, " \t\r\n\f"):
			return false
		case t == "*" || (t == ">" && i == len(tokens)-1):
			if !wildcards {
				return false
			}
		case strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// capturesAll reports whether the stream subject pattern captures every
// subject an endpoint with the given prefix publishes on:
// prefix.<action>.<type>, for any two tokens.
func capturesAll(pattern, prefix string) bool {
	p, q := strings.Split(pattern, "."), strings.Split(prefix, ".")
	for i, t := range p {
		switch {
		case t == ">": // one or more tokens, and the last of the pattern
			return i == len(p)-1 && i <= len(q)+1
		case i >= len(q)+2:
			return false
		case i < len(q) && t != q[i] && t != "*":
			return false
		case i >= len(q) && t != "*": // the action and the type
			return false
		}
	}
	return len(p) == len(q)+2
}

// maxNameBytes bounds a stream's (or consumer's) name, as nats-server does.
const maxNameBytes = 255

// validName reports whether nats-server takes name as a stream's or a
// consumer's name: 1 to maxNameBytes bytes of UTF-8 without whitespace,
// '.', '*', '>' or a slash.
func validName(name string) bool {
	return name != "" && len(name) <= maxNameBytes && utf8.ValidString(name) && !strings.ContainsAny(name, " \t\r\n\f.*>/\\")
}

// nameError says why validName refused the name of a kind ("stream",
// "durable").
func nameError(kind, name string) string {
	return fmt.Sprintf("%s name %q is not 1 to %d bytes of UTF-8 without whitespace, '.', '*', '>' or a slash", kind, name, maxNameBytes)
}

// validFilter reports whether nats-server takes s as a consumer's filter
// subject: dot-separated non-empty tokens of UTF-8 without whitespace, '>'
// only as the last one ('*' and '>' inside a longer token are plain text).
func validFilter(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n\f") || (t == ">" && i < len(tokens)-1) {
			return false
		}
	}
	return true
}

// headerNameForbidden are the printable ASCII characters that nats.go
// refuses in a header name, besides spaces and control characters.
const headerNameForbidden = `"()/,:;<=>?@[\]{}`

// invalidHeaderNameByte returns the index of the first byte of name that
// nats.go refuses in a header name (0 for an empty name), or -1 when it
// takes the name: printable ASCII (33 to 126) but for headerNameForbidden.
// A message with any other name fails to publish, so every attempt would.
func invalidHeaderNameByte(name string) int {
	if name == "" {
		return 0
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || strings.IndexByte(headerNameForbidden, c) >= 0 {
			return i
		}
	}
	return -1
}
