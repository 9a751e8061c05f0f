package receiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/internal/stdwebhooks"
)

const fuzzMaxBody = 64 << 10

// bodySeeds are bodies good and bad: malformed JSON, huge numbers, deep
// nesting, invalid UTF-8, wrong types, nulls.
func bodySeeds(f *testing.F) [][]byte {
	golden, err := os.ReadFile("../testdata/envelope.golden.json")
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{
		golden,
		[]byte(`{"events":[{"id":"a"}]}`),
		[]byte(`{"events":[{"id":"a"},{"id":"a"},{"id":"b"}]}`),
		[]byte(`{"events":[{"id":"a","timestamp":"2026-01-02T03:04:05Z","target":{"digest":"sha256:abc","length":1e999999}}]}`),
		[]byte(`{"events":[{"id":1e400}]}`),
		[]byte(`{"events":[{"id":"a","timestamp":123456789012345678901234567890}]}`),
		[]byte(`{"events":[{"id":"a","timestamp":"not a time"}]}`),
		[]byte(`{"events":[{"id":"a","request":{"x":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}}]}`),
		[]byte(`{"events":[{"id":"a","request":{"x":` + strings.Repeat(`[`, 9000) + strings.Repeat(`]`, 9000) + `}}]}`),
		[]byte("{\"events\":[{\"id\":\"\xff\xfe\"}]}"),
		[]byte("{\"events\":[{\"id\":\"a\",\"action\":\"\xc0\x80\"}]}"),
		[]byte(`{"events":[{"id":"\ud800"}]}`),
		[]byte(`{"events":null}`),
		[]byte(`{"events":{}}`),
		[]byte(`{"events":[null]}`),
		[]byte(`{"events":[{"id":""}]}`),
		[]byte(`null`),
		[]byte(`{"events":[{"id":"a"}]} trailing`),
		[]byte(`{"events":[{"id":"a"`),
		{},
	}
}

// checkAccepted fails the test when body, which the handler accepted, is not
// a valid envelope by an independent reading, or when handle did not get
// exactly its events, each once.
func checkAccepted(t *testing.T, body []byte, handled []string) {
	t.Helper()
	if !utf8.Valid(body) || !json.Valid(body) {
		t.Fatalf("accepted a body that is not UTF-8 JSON: %q", body)
	}
	var env struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Events) == 0 {
		t.Fatalf("accepted a body that is not an envelope with events: %q", body)
	}
	ids := make([]string, len(env.Events))
	for i, e := range env.Events {
		ids[i] = e.ID
	}
	checkIDs(t, body, ids, handled)
}

// checkIDs fails the test when an accepted body's event IDs (ids) hold an
// empty or too long one, or when handle did not get exactly them, in order,
// each once.
func checkIDs(t *testing.T, body []byte, ids, handled []string) {
	t.Helper()
	var want []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" {
			t.Fatalf("accepted an event without an ID: %q", body)
		}
		if len(id) > MaxEventIDBytes {
			t.Fatalf("accepted an event ID over %d bytes: %q", MaxEventIDBytes, body)
		}
		if !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	if strings.Join(want, "\x00") != strings.Join(handled, "\x00") {
		t.Fatalf("handled %q, want %q", handled, want)
	}
}

// FuzzDecode posts arbitrary bodies to an unsigned receiver: no panic, and
// a 2xx only for a valid envelope, whose events were handled once each.
func FuzzDecode(f *testing.F) {
	for _, body := range bodySeeds(f) {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var handled []string
		h := New(Config{MaxBodyBytes: fuzzMaxBody}, func(_ context.Context, events []notifications.Event) error {
			for _, e := range events {
				handled = append(handled, e.ID)
			}
			return nil
		})
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", notifications.EventsMediaType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch code := w.Code; {
		case code >= 200 && code < 300:
			checkAccepted(t, body, handled)
		case len(handled) > 0:
			t.Fatalf("answered %d after handling %q", code, handled)
		case code == http.StatusRequestEntityTooLarge && len(body) > fuzzMaxBody:
		case code != http.StatusBadRequest:
			t.Fatalf("answered %d to %q", code, body)
		}
	})
}

// FuzzSignedRequest varies the body and every header a signed receiver
// reads: a 2xx only for the events media type, a timestamp within the
// tolerance, a signature by the secret over exactly what was sent, and a
// valid envelope.
func FuzzSignedRequest(f *testing.F) {
	secret := testSecret("fuzz")
	key, err := stdwebhooks.ParseSecret(secret)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	sign := func(id, ts string, body []byte) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	for _, body := range bodySeeds(f) {
		ts := strconv.FormatInt(now.Unix(), 10)
		f.Add(body, notifications.EventsMediaType, "msg_1", ts, sign("msg_1", ts, body))
	}
	good := []byte(`{"events":[{"id":"a"}]}`)
	for _, ts := range []string{"1699999000", "1700000300", "1700000301", "+1700000000", " 1700000000", "1.7e9", "99999999999999999999"} {
		f.Add(good, notifications.EventsMediaType+"; charset=utf-8", "msg_2", ts, "v2,x "+sign("msg_2", ts, good))
	}
	f.Add(good, "application/json", "msg_3", "1700000000", sign("msg_3", "1700000000", good))
	f.Add(good, notifications.EventsMediaTypeV2, "msg_4", "1700000000", sign("msg_4", "1700000000", good))
	ce := []byte(`{"specversion":"1.0","id":"c","source":"/","type":"t","data":{"id":"a","action":"push"}}`)
	f.Add(ce, notifications.CloudEventsMediaType, "msg_5", "1700000000", sign("msg_5", "1700000000", ce))
	batch := slices.Concat([]byte("["), ce, []byte(`,{"specversion":"1.0","id":"d","source":"/","type":"t","data":{"action":"pull"}}]`))
	f.Add(batch, notifications.CloudEventsBatchMediaType, "msg_6", "1700000000", sign("msg_6", "1700000000", batch))

	f.Fuzz(func(t *testing.T, body []byte, contentType, id, ts, signature string) {
		var handled []string
		hh := New(Config{Secrets: []string{secret}, MaxBodyBytes: fuzzMaxBody}, func(_ context.Context, events []notifications.Event) error {
			for _, e := range events {
				handled = append(handled, e.ID)
			}
			return nil
		})
		hh.(*handler).now = func() time.Time { return now }
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set(stdwebhooks.HeaderID, id)
		r.Header.Set(stdwebhooks.HeaderTimestamp, ts)
		r.Header.Set(stdwebhooks.HeaderSignature, signature)
		w := httptest.NewRecorder()
		hh.ServeHTTP(w, r)
		if w.Code < 200 || w.Code >= 300 {
			if len(handled) > 0 {
				t.Fatalf("answered %d after handling %q", w.Code, handled)
			}
			return
		}
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			t.Fatalf("accepted content type %q", contentType)
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sec < now.Unix()-300 || sec > now.Unix()+300 {
			t.Fatalf("accepted timestamp %q", ts)
		}
		// r.Header.Get returns what Set stored, so sign the same strings.
		want := sign(r.Header.Get(stdwebhooks.HeaderID), r.Header.Get(stdwebhooks.HeaderTimestamp), body)
		if !slices.Contains(strings.Fields(r.Header.Get(stdwebhooks.HeaderSignature)), want) {
			t.Fatalf("accepted signature %q, want an entry %q", signature, want)
		}
		switch mt {
		case notifications.EventsMediaType, notifications.EventsMediaTypeV2:
			checkAccepted(t, body, handled)
		case notifications.CloudEventsMediaType:
			checkAcceptedCloudEvents(t, slices.Concat([]byte("["), body, []byte("]")), handled)
		case notifications.CloudEventsBatchMediaType:
			checkAcceptedCloudEvents(t, body, handled)
		default: // binary mode needs Ce- headers, which no request here has
			t.Fatalf("accepted content type %q", contentType)
		}
	})
}

// checkAcceptedCloudEvents is checkAccepted for a JSON array of CloudEvents
// (a batch, or a structured event inside brackets): each event's ID is its
// data's, or else the CloudEvent's.
func checkAcceptedCloudEvents(t *testing.T, batch []byte, handled []string) {
	t.Helper()
	if !utf8.Valid(batch) || !json.Valid(batch) {
		t.Fatalf("accepted a body that is not UTF-8 JSON: %q", batch)
	}
	var events []struct {
		ID         string          `json:"id"`
		Data       json.RawMessage `json:"data"`
		DataBase64 []byte          `json:"data_base64"`
	}
	if err := json.Unmarshal(batch, &events); err != nil || len(events) == 0 {
		t.Fatalf("accepted a body that is not CloudEvents: %q", batch)
	}
	var ids []string
	for _, e := range events {
		data := []byte(e.Data)
		if e.DataBase64 != nil {
			data = e.DataBase64
		}
		var event struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(data, &event); err != nil {
			t.Fatalf("accepted a CloudEvent whose data is not an event: %q", batch)
		}
		if event.ID == "" {
			event.ID = e.ID
		}
		ids = append(ids, event.ID)
	}
	checkIDs(t, batch, ids, handled)
}
