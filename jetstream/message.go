package jetstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/regnotify/notifications"
	webhook "github.com/regnotify/notifications/receiver" // kit_test.go has a type receiver
)

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
