package jetstream

// An event's message: made from the event (message, Subject) and read back
// (DecodeMessage).

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/regnotify/notifications"
	webhook "github.com/regnotify/notifications/receiver" // kit_test.go has a type receiver
)

// message returns the JetStream message for e: its JSON, or a structured
// CloudEvent with FormatCloudEvents.
func (d *deliverer) message(e *notifications.Event) (*nats.Msg, error) {
	if len(e.ID) > webhook.MaxEventIDBytes {
		return nil, errLongID
	}
	var body []byte
	var err error
	contentType := notifications.EventsMediaType
	if d.cloudEvents {
		body, err = notifications.AppendCloudEvent(nil, e)
		contentType = notifications.CloudEventsMediaType
	} else {
		body, err = json.Marshal(e)
	}
	if err != nil {
		return nil, err
	}
	h := make(nats.Header, len(d.headers)+4)
	for name, values := range d.headers {
		h[name] = values // shared, never modified
	}
	if e.ID != "" {
		h.Set(natsjs.MsgIDHeader, msgID(e.ID))
	}
	if e.Target.Name != "" {
		h.Set(HeaderRepository, e.Target.Name)
	} else if e.Target.Repository != "" { // the released formats' name for it
		h.Set(HeaderRepository, e.Target.Repository)
	}
	if e.Target.Tag != "" {
		h.Set(HeaderTag, e.Target.Tag)
	}
	h.Set("Content-Type", contentType)
	return &nats.Msg{Subject: Subject(d.prefix, e), Data: body, Header: h}, nil
}

// Subject returns the subject under which the event is published with the
// given prefix: prefix.<action>.<target type>. An event in a released
// registry format, which has a Target.Repository but no Target.Type, uses
// the kind notifications.CloudEventKind tells (manifest, blob, tag,
// repository or content). A token that is empty or holds characters that
// have a meaning in subjects ('.', '*', '>', whitespace), control
// characters or bytes that are not UTF-8 has them replaced by '_', and a
// token is cut to maxSubjectToken bytes (a subject longer than the server's
// control line, 4 KiB, made it close the connection for good); the body
// keeps the exact values.
func Subject(prefix string, e *notifications.Event) string {
	typ := e.Target.Type
	if typ == "" && e.Target.Repository != "" {
		typ = notifications.CloudEventKind(e)
	}
	return prefix + "." + subjectToken(e.Action) + "." + subjectToken(typ)
}

// maxSubjectToken bounds a subject token built from an event's values, in
// bytes: actions and kinds are short words.
const maxSubjectToken = 64

// subjectToken returns s made usable as one subject token.
func subjectToken(s string) string {
	if s == "" {
		return "_"
	}
	if len(s) > 4*maxSubjectToken {
		s = s[:4*maxSubjectToken] // at most maxSubjectToken runes are kept
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '.', r == '*', r == '>', unicode.IsSpace(r), unicode.IsControl(r), r == utf8.RuneError:
			return '_'
		}
		return r
	}, s)
	if len(s) > maxSubjectToken {
		end := maxSubjectToken
		for !utf8.RuneStart(s[end]) { // not within a rune
			end--
		}
		s = s[:end]
	}
	return s
}

// DecodeMessage returns the event a message of this module's endpoint
// carries, in either WireFormat: a structured CloudEvent when the
// message's Content-Type says so (decoded as the receiver package decodes
// webhooks), otherwise the event's JSON, with the ID from Nats-Msg-Id when
// the body has none. It returns an error for a message that is not one
// event.
func DecodeMessage(msg natsjs.Msg) (notifications.Event, error) {
	var e notifications.Event
	header := http.Header(msg.Headers())
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt == notifications.CloudEventsMediaType {
		events, err := webhook.Decode(header, msg.Data())
		if err != nil {
			return e, err
		}
		if len(events) != 1 {
			return e, fmt.Errorf("%d events in one message", len(events))
		}
		return events[0], nil
	}
	if err := json.Unmarshal(msg.Data(), &e); err != nil {
		return e, decodeError(err)
	}
	if reflect.ValueOf(e).IsZero() { // null, {}, an envelope: JSON that holds no event
		return e, errors.New("body is not an event: no field of one")
	}
	if e.ID == "" {
		e.ID = header.Get(nats.MsgIdHdr)
	}
	return e, nil
}

// decodeError returns err, json.Unmarshal's for a message's body, without
// what it quotes of the body: a value that does not parse (a timestamp,
// say) is quoted whole in its parser's error, and the error is logged.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("body is not JSON (byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return errors.New("body is not an event: a field holds a JSON value of the wrong type")
	default:
		return errors.New("body is not an event: a value does not parse")
	}
}
