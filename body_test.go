package notifications

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodyBuffersReuse(t *testing.T) {
	var bb bodyBuffers
	first := testEvents("a", 2)
	b1, err := bb.forBatch(first)
	require.NoError(t, err)
	again, err := bb.forBatch(first)
	require.NoError(t, err)
	assert.Same(t, b1, again, "a retry of the same batch sends the same bytes")

	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
	bb.attach(req, b1)
	sent, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	assert.Equal(t, string(b1.bytes), string(sent))

	second := testEvents("b", 1)
	b2, err := bb.forBatch(second)
	require.NoError(t, err)
	assert.NotSame(t, b1, b2, "a buffer still read by a request is not reused")
	assert.Contains(t, string(sent), `"a-0"`, "the open request's bytes are untouched")

	require.NoError(t, req.Body.Close())
	require.NoError(t, req.Body.Close(), "closing twice releases once")
	third, err := bb.forBatch(testEvents("c", 1))
	require.NoError(t, err)
	assert.True(t, third == b1 || third == b2, "once its requests are done, a buffer serves a later batch")
	assert.Contains(t, string(third.bytes), `"c-0"`)

	redirected, err := req.GetBody()
	require.NoError(t, err)
	require.NoError(t, redirected.Close())
}
