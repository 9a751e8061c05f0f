package receiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/regnotify/notifications"
)

// Errors of CloudEvents decoding, answered with 400.
var (
	errNotCloudEvent      = errors.New("body is not a JSON CloudEvent")
	errNotCloudEventBatch = errors.New("body is not a JSON array of CloudEvents")
	errMissingAttribute   = errors.New("CloudEvent without the required attribute")
	errSpecVersion        = errors.New("CloudEvent specversion is not " + notifications.CloudEventsSpecVersion)
	errDataNotJSON        = errors.New("CloudEvent datacontenttype is not JSON")
	errNoData             = errors.New("CloudEvent without data")
	errDataNotEvent       = errors.New("CloudEvent data is not a registry event object")
	errBadTime            = errors.New("CloudEvent time is not RFC 3339")
)

// isJSON reports whether the media type mt holds JSON.
func isJSON(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// structuredEvent is a CloudEvent in the JSON event format, the attributes
// Decode needs; other attributes and extensions are ignored.
type structuredEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	DataBase64      []byte          `json:"data_base64"`
}

// attributes are the context attributes an event is checked against.
type attributes struct {
	specVersion, id, source, typ, time string
}

// check returns why a CloudEvent with these attributes is refused, or nil.
func (a attributes) check() error {
	for _, required := range [...]struct{ name, value string }{
		{"specversion", a.specVersion}, {"id", a.id}, {"source", a.source}, {"type", a.typ},
	} {
		if required.value == "" {
			return fmt.Errorf("%w %s", errMissingAttribute, required.name)
		}
	}
	if a.specVersion != notifications.CloudEventsSpecVersion {
		return errSpecVersion
	}
	return nil
}

// event decodes data, the JSON of an Event, filling its ID and timestamp
// from the attributes when it has none.
func (a attributes) event(data []byte) (notifications.Event, error) {
	var e notifications.Event
	if len(data) == 0 || string(data) == "null" {
		return e, errNoData
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, errDataNotEvent
	}
	if reflect.ValueOf(e).IsZero() { // {}, {"hello":"world"}, an envelope: JSON that holds no event
		return e, errDataNotEvent
	}
	if e.ID == "" {
		e.ID = a.id
	}
	if e.Timestamp.IsZero() && a.time != "" {
		t, err := time.Parse(time.RFC3339Nano, a.time)
		if err != nil {
			return e, errBadTime
		}
		e.Timestamp = t
	}
	return e, nil
}

// decodeCloudEvent returns the event a JSON CloudEvent carries.
func decodeCloudEvent(raw []byte) (notifications.Event, error) {
	var ce structuredEvent
	if err := json.Unmarshal(raw, &ce); err != nil {
		return notifications.Event{}, errNotCloudEvent
	}
	a := attributes{specVersion: ce.SpecVersion, id: ce.ID, source: ce.Source, typ: ce.Type, time: ce.Time}
	if err := a.check(); err != nil {
		return notifications.Event{}, err
	}
	if ce.DataContentType != "" && !isJSON(mediaType(ce.DataContentType)) {
		return notifications.Event{}, errDataNotJSON
	}
	data := []byte(ce.Data)
	if ce.DataBase64 != nil {
		data = ce.DataBase64
	}
	return a.event(data)
}

// mediaType returns the media type of a Content-Type value, without its
// parameters.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// decodeStructured returns the event of a structured-mode body.
func decodeStructured(body []byte) ([]notifications.Event, error) {
	e, err := decodeCloudEvent(body)
	if err != nil {
		return nil, err
	}
	return []notifications.Event{e}, nil
}

// decodeBatch returns the events of a batched-mode body, in order.
func decodeBatch(body []byte) ([]notifications.Event, error) {
	if countElements(body, MaxEvents) > MaxEvents && json.Valid(body) {
		return nil, ErrTooManyEvents
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil || batch == nil {
		return nil, errNotCloudEventBatch
	}
	if len(batch) == 0 {
		return nil, errNoEvents
	}
	events := make([]notifications.Event, len(batch))
	for i, raw := range batch {
		var err error
		if events[i], err = decodeCloudEvent(raw); err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
	}
	return events, nil
}

// decodeBinary returns the event of a binary-mode request: its attributes
// in Ce- headers (percent-encoded), its data the body.
func decodeBinary(header http.Header, body []byte) ([]notifications.Event, error) {
	get := func(name string) string {
		v := header.Get(name)
		if unescaped, err := url.PathUnescape(v); err == nil {
			return unescaped
		}
		return v
	}
	a := attributes{specVersion: get("Ce-Specversion"), id: get("Ce-Id"), source: get("Ce-Source"),
		typ: get("Ce-Type"), time: get("Ce-Time")}
	if err := a.check(); err != nil {
		return nil, err
	}
	e, err := a.event(body)
	if err != nil {
		return nil, err
	}
	return []notifications.Event{e}, nil
}
