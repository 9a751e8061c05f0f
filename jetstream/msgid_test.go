package jetstream

import (
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMsgID(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"uuid as it is", "5a2c8f47-5d2b-4b5c-9e3f-1c0d2e3f4a5b", "5a2c8f47-5d2b-4b5c-9e3f-1c0d2e3f4a5b"},
		{"inner space as it is", "a b", "a b"},
		{"UTF-8 as it is", "événement", "événement"},
		{"leading space", " x", "%20x"},
		{"trailing space", "x ", "x%20"},
		{"newline", "a\nb", "a%0Ab"},
		{"carriage return", "a\rb", "a%0Db"},
		{"tab", "a\tb", "a%09b"},
		{"leading tab", "\tx", "%09x"},
		{"NUL", "a\x00b", "a%00b"},
		{"all spaces", "  ", "%20%20"},
		{"lone percent", "%", "%25"},
		{"DEL", "a\x7fb", "a%7Fb"},
		{"percent", "a%20b", "a%2520b"},
		{"all spaces escaped with an edge one", " a b", "%20a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, msgID(tt.id))
		})
	}
}

// TestIDsNATSWouldMergeStayDistinct: events whose IDs NATS would carry
// as the same header value (it trims them and turns CR and LF into spaces)
// all reach the stream, within its duplicate window, each with its exact ID.
func TestIDsNATSWouldMergeStayDistinct(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	e, err := NewEndpoint("ids", Config{
		URL:          s.ClientURL(),
		CreateStream: &StreamConfig{Name: "IDS", Duplicates: time.Minute},
		Endpoint:     testConfig(),
	})
	require.NoError(t, err)

	ids := []string{"x", " x", "x ", "\tx", "a b", "a\nb", "a\rb", "a\r\nb", "a%20b", "%20x", "a%0Ab"}
	events := testEvents("ids", len(ids))
	for i, id := range ids {
		events[i].ID = id
	}
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())

	msgs := streamMessages(t, js, "IDS")
	require.Len(t, msgs, len(ids), "every event in the stream")
	var got []string
	for _, m := range msgs {
		ev, err := DecodeMessage(m)
		require.NoError(t, err)
		got = append(got, ev.ID)
	}
	assert.Equal(t, ids, got)
}

// FuzzMsgID holds msgID to its promise: NATS carries every Nats-Msg-Id it
// makes as it is, and two different IDs never get the same one.
func FuzzMsgID(f *testing.F) {
	for _, pair := range [][2]string{{"x", " x"}, {"a\nb", "a b"}, {"a%20b", "a b"}, {"%", "%25"}, {"\t", " "}, {"", " "}} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ma, mb := msgID(a), msgID(b)
		assert.Equal(t, ma, carriedByNATS(ma), "carried as it is")
		if a != b {
			assert.NotEqual(t, carriedByNATS(ma), carriedByNATS(mb), "IDs %q and %q", a, b)
		}
	})
}

// carriedByNATS is the header value NATS delivers for v: nats.go trims it
// and turns CR and LF into spaces.
func carriedByNATS(v string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(textproto.TrimString(v))
}
