package notifications

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodyPoolReuse(t *testing.T) {
	var bb bodyPool
	b1, err := bb.encode(testEvents("a", 2), appendEnvelope)
	require.NoError(t, err)

	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
	bb.attach(req, b1)
	sent, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	assert.Equal(t, string(b1.bytes), string(sent))
	bb.release(b1) // the batch is done; its request is not

	b2, err := bb.encode(testEvents("b", 1), appendEnvelope)
	require.NoError(t, err)
	assert.NotSame(t, b1, b2, "a buffer still read by a request is not reused")
	assert.Contains(t, string(sent), `"a-0"`, "the open request's bytes are untouched")

	require.NoError(t, req.Body.Close())
	require.NoError(t, req.Body.Close(), "closing twice releases once")
	third, err := bb.encode(testEvents("c", 1), appendEnvelope)
	require.NoError(t, err)
	assert.Same(t, b1, third, "once its batch and requests are done, a buffer serves a later batch")
	assert.Contains(t, string(third.bytes), `"c-0"`)

	redirected, err := req.GetBody()
	require.NoError(t, err)
	require.NoError(t, redirected.Close())
}

// A new buffer is made at the size the last body says the events need,
// not grown by append from nothing (in quarter steps at these sizes, about
// five times the body allocated): its capacity is exactly that size.
func TestBodyPoolSizesNewBuffersFromTheLastBody(t *testing.T) {
	var bb bodyPool
	events := testEvents("a", 1000)
	first, err := bb.encode(events, appendEnvelope)
	require.NoError(t, err)
	require.Greater(t, len(first.bytes), 100*1000, "a body far larger than append's first steps")

	second, err := bb.encode(events, appendEnvelope) // first is held: a new buffer
	require.NoError(t, err)
	require.NotSame(t, first, second)
	assert.Equal(t, first.bytes, second.bytes)
	perEvent := len(first.bytes) / len(events)
	assert.Equal(t, min(len(events)*perEvent*9/8, maxEnvelopeBytes), cap(second.bytes),
		"made once, at the last body's bytes an event and an eighth more")
}

// A buffer grown past the envelope limit by a lone block of large events
// is not kept once smaller bodies follow: the pool holds at most about
// three envelopes, however large a block once was. One within the limit is
// kept, whatever the body it held last.
func TestBodyPoolKeepsNoBufferPastTheEnvelopeLimit(t *testing.T) {
	var bb bodyPool
	large := testEvents("large", 1)
	large[0].Target.URL = strings.Repeat("u", 2*maxEnvelopeBytes)
	b, err := bb.encode(large, appendEnvelope)
	require.NoError(t, err)
	require.Greater(t, cap(b.bytes), maxEnvelopeBytes)
	bb.release(b)
	require.Len(t, bb.free, 1, "kept while nothing smaller came")

	small, err := bb.encode(testEvents("small", 10), appendEnvelope)
	require.NoError(t, err)
	require.Same(t, b, small, "the free buffer serves the next body")
	bb.release(small)
	assert.Empty(t, bb.free, "grown past the envelope limit, and holding a small body: let go")

	full, err := bb.encode(testEvents("full", 1000), appendEnvelope)
	require.NoError(t, err)
	bb.release(full)
	few, err := bb.encode(testEvents("few", 10), appendEnvelope)
	require.NoError(t, err)
	require.Same(t, full, few)
	bb.release(few)
	assert.Len(t, bb.free, 1, "within the limit: kept for the next full batch")
}

func TestHTTPDelivererEncodesOnceForEveryAttempt(t *testing.T) {
	rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	d := newHTTPDeliverer(rc.URL, fastConfig().withDefaults())
	enc, err := d.Encode(testEvents("a", 2))
	require.NoError(t, err)
	assert.Equal(t, Retry, d.DeliverEncoded(t.Context(), enc).Outcome)
	assert.Equal(t, Accepted, d.DeliverEncoded(t.Context(), enc).Outcome, "the same bytes, sent again")
	enc.Release()
	assert.Equal(t, Reject, d.DeliverEncoded(t.Context(), enc).Outcome, "a released batch is not sent")
	require.NoError(t, d.Close())
	assert.Equal(t, []string{"a-0", "a-1"}, ids(rc.received()))
}
