package receiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/internal/jsontime"
)

// ErrUnsupportedMediaType is wrapped by Decode's error for a request in no
// dialect the receiver speaks; the handler answers it with 415. Every other
// error of Decode means a malformed body, answered with 400.
var ErrUnsupportedMediaType = errors.New("unsupported media type")

// Errors of Decode, answered with 400.
var (
	errNotUTF8     = errors.New("body is not UTF-8")
	errNotEnvelope = errors.New("body is not a JSON events envelope")
	errNoEvents    = errors.New("envelope has no events")
	errNoID        = errors.New("event without an id")
	errLongID      = fmt.Errorf("event id longer than %d bytes", MaxEventIDBytes)

	errTimeNotEncodable = errors.New("event timestamp JSON cannot hold (a year outside 0 to 9999, or a zone a day or more from UTC)")
)

// dialect is one way of carrying events in a request.
type dialect int

const (
	dialectEnvelope   dialect = iota // application/vnd.docker.distribution.events.v1+json or v2+json
	dialectCloudEvent                // application/cloudevents+json: structured mode
	dialectBatch                     // application/cloudevents-batch+json: batched mode
	dialectBinary                    // ce-specversion header: binary mode
)

// acceptedMediaTypes names what the receiver accepts, for its 415 answer.
const acceptedMediaTypes = notifications.EventsMediaType + ", " + notifications.EventsMediaTypeV2 + ", " +
	notifications.CloudEventsMediaType + ", " + notifications.CloudEventsBatchMediaType +
	" or a binary-mode CloudEvent of application/json"

// dialectOf tells the dialect of a request from its headers alone, so that
// a request in none is refused before its body is read. The Content-Type
// decides, as the CloudEvents HTTP binding has it: Ce- headers make a
// binary-mode CloudEvent only of a body in none of the other dialects (an
// envelope sent with Ce- headers a proxy or a configuration added is still
// an envelope, every event of it).
func dialectOf(header http.Header) (dialect, error) {
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err == nil {
		switch mt {
		case notifications.EventsMediaType, notifications.EventsMediaTypeV2:
			return dialectEnvelope, nil
		case notifications.CloudEventsMediaType:
			return dialectCloudEvent, nil
		case notifications.CloudEventsBatchMediaType:
			return dialectBatch, nil
		}
	}
	if header.Get("Ce-Specversion") != "" {
		// Binary mode: the body is the data; ours is an event object.
		if err == nil && isJSON(mt) {
			return dialectBinary, nil
		}
		return 0, fmt.Errorf("%w: binary-mode CloudEvent data is not application/json", ErrUnsupportedMediaType)
	}
	return 0, fmt.Errorf("%w: content type is not %s", ErrUnsupportedMediaType, acceptedMediaTypes)
}

// Decode returns the events a webhook request carries, in any dialect the
// receiver accepts, told apart by the Content-Type (parameters such as
// charset allowed):
//   - notifications.EventsMediaType (the 2015 format and docker/distribution
//     v2.x) and notifications.EventsMediaTypeV2 (distribution v3): a JSON
//     envelope, every field of every event decoded;
//   - notifications.CloudEventsBatchMediaType: a JSON array of CloudEvents;
//   - notifications.CloudEventsMediaType: one CloudEvent (structured mode);
//   - a Ce-Specversion header with another Content-Type, of JSON: one
//     CloudEvent in binary mode, whose body is the data.
//
// A CloudEvent's data is the Event's JSON object; it must carry
// specversion 1.0, id, source and type, and an event's missing ID or
// timestamp is taken from the CloudEvent's id and time. Decode does not
// verify signatures.
//
// Decode returns a non-empty list in which every event has an ID of at most
// MaxEventIDBytes and a timestamp JSON can hold, or an error: one wrapping
// ErrUnsupportedMediaType for another dialect, ErrTooManyEvents for more
// than MaxEvents events, otherwise a short reason the body is malformed
// (not UTF-8, not JSON of the dialect, no events, an event without an ID,
// a timestamp in a year outside 0 to 9999 or a zone a day or more from UTC, which
// parsers take and encoders refuse, a CloudEvent lacking a required
// attribute or with data that is not an event).
func Decode(header http.Header, body []byte) ([]notifications.Event, error) {
	d, err := dialectOf(header)
	if err != nil {
		return nil, err
	}
	return d.decode(header, body)
}

// decode returns the events of body, in dialect d.
func (d dialect) decode(header http.Header, body []byte) ([]notifications.Event, error) {
	if !utf8.Valid(body) {
		return nil, errNotUTF8
	}
	var (
		events []notifications.Event
		err    error
	)
	switch d {
	case dialectEnvelope:
		events, err = decodeEnvelope(body)
	case dialectCloudEvent:
		events, err = decodeStructured(body)
	case dialectBatch:
		events, err = decodeBatch(body)
	case dialectBinary:
		events, err = decodeBinary(header, body)
	}
	if err != nil {
		return nil, err
	}
	for i, e := range events {
		if e.ID == "" {
			return nil, fmt.Errorf("%w: events[%d]", errNoID, i)
		}
		if len(e.ID) > MaxEventIDBytes {
			return nil, fmt.Errorf("%w: events[%d]", errLongID, i)
		}
		if !jsontime.Encodable(e.Timestamp) { // nothing could send it on
			return nil, fmt.Errorf("%w: events[%d]", errTimeNotEncodable, i)
		}
	}
	return events, nil
}

// decodeEnvelope returns the events of a JSON envelope: one JSON object
// whose "events" list is not empty. Unknown fields are allowed.
func decodeEnvelope(body []byte) ([]notifications.Event, error) {
	var env struct {
		Events envelopeEvents `json:"events"` // as notifications.Envelope's
	}
	if err := json.Unmarshal(body, &env); err != nil {
		if errors.Is(err, ErrTooManyEvents) {
			return nil, ErrTooManyEvents
		}
		return nil, errNotEnvelope
	}
	if len(env.Events) == 0 {
		return nil, errNoEvents
	}
	return env.Events, nil
}
