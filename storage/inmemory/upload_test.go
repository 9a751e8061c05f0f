package inmemory

import (
	"io"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUploadStart(t *testing.T) {
	ls := newTestRegistry().Repository("library/ubuntu").Layers()
	a, err := ls.Upload()
	require.NoError(t, err)
	b, err := ls.Upload()
	require.NoError(t, err)

	assert.Equal(t, "library/ubuntu", a.Name())
	_, err = uuid.Parse(a.UUID())
	assert.NoError(t, err)
	assert.NotEqual(t, a.UUID(), b.UUID())
	assert.Equal(t, t0, a.StartedAt())
	assert.Equal(t, t0.Add(time.Second), b.StartedAt())
}

// step is a Write of data or, when seek is set, a Seek expected to return
// wantPos.
type step struct {
	seek    bool
	offset  int64
	whence  int
	wantPos int64
	data    string
}

func write(data string) step { return step{data: data} }

func seek(offset int64, whence int, wantPos int64) step {
	return step{seek: true, offset: offset, whence: whence, wantPos: wantPos}
}

func TestUploadWriteSeek(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"empty", nil, ""},
		{"append", []step{write("abc"), write("def")}, "abcdef"},
		{"overwrite from start", []step{write("abcdef"), seek(2, io.SeekStart, 2), write("XY")}, "abXYef"},
		{"seek current back", []step{write("abcdef"), seek(-2, io.SeekCurrent, 4), write("Z")}, "abcdZf"},
		{"seek current forward", []step{write("ab"), seek(0, io.SeekStart, 0), seek(1, io.SeekCurrent, 1), write("X")}, "aX"},
		{"seek end", []step{write("abc"), seek(0, io.SeekStart, 0), seek(-1, io.SeekEnd, 2), write("XY")}, "abXY"},
		{"write across end", []step{write("abc"), seek(1, io.SeekStart, 1), write("WXYZ")}, "aWXYZ"},
		{"gap filled with zeros", []step{write("ab"), seek(2, io.SeekEnd, 4), write("c")}, "ab\x00\x00c"},
		{"seek past end alone", []step{write("ab"), seek(10, io.SeekStart, 10)}, "ab"},
		{"empty write past end", []step{seek(3, io.SeekStart, 3), write("")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := New().Repository("r")
			up, err := repo.Layers().Upload()
			require.NoError(t, err)
			for i, s := range tt.steps {
				if s.seek {
					pos, err := up.Seek(s.offset, s.whence)
					require.NoError(t, err, "step %d", i)
					assert.Equal(t, s.wantPos, pos, "step %d", i)
					continue
				}
				n, err := up.Write([]byte(s.data))
				require.NoError(t, err, "step %d", i)
				assert.Equal(t, len(s.data), n, "step %d", i)
			}
			dgst := digest.FromString(tt.want)
			l, err := up.Finish(dgst)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(mustReadAll(t, l)))
			require.NoError(t, l.Close())
			assert.Equal(t, tt.want, string(readLayer(t, repo, dgst)))
		})
	}
}

func TestUploadSeekErrors(t *testing.T) {
	tests := []struct {
		name   string
		offset int64
		whence int
	}{
		{"negative from start", -1, io.SeekStart},
		{"negative from current", -4, io.SeekCurrent},
		{"negative from end", -4, io.SeekEnd},
		{"invalid whence", 0, 7},
		{"overflow", math.MaxInt64, io.SeekCurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, err := New().Repository("r").Layers().Upload()
			require.NoError(t, err)
			_, err = up.Write([]byte("abc"))
			require.NoError(t, err)

			_, err = up.Seek(tt.offset, tt.whence)
			require.Error(t, err)

			pos, err := up.Seek(0, io.SeekCurrent)
			require.NoError(t, err)
			assert.Equal(t, int64(3), pos, "a failed Seek keeps the position")
		})
	}
}

func TestUploadWriteTooLarge(t *testing.T) {
	up, err := New().Repository("r").Layers().Upload()
	require.NoError(t, err)
	_, err = up.Seek(math.MaxInt64, io.SeekStart)
	require.NoError(t, err)
	n, err := up.Write([]byte("x"))
	assert.Error(t, err)
	assert.Zero(t, n)
}

func TestUploadFinish(t *testing.T) {
	repo := newTestRegistry().Repository("r")
	up, err := repo.Layers().Upload() // t0
	require.NoError(t, err)
	_, err = up.Write([]byte("layer"))
	require.NoError(t, err)

	dgst := digest.FromString("layer")
	l, err := up.Finish(dgst) // t0+1s
	require.NoError(t, err)
	assert.Equal(t, "r", l.Name())
	assert.Equal(t, dgst, l.Digest())
	assert.Equal(t, t0.Add(time.Second), l.CreatedAt())
	assert.Equal(t, "layer", string(mustReadAll(t, l)))
	require.NoError(t, l.Close())

	_, err = repo.Layers().Resume(up.UUID())
	assert.ErrorIs(t, err, ErrUnknownUpload, "the upload is gone")
	assertUploadClosed(t, up)
}

func TestUploadFinishSHA512(t *testing.T) {
	repo := New().Repository("r")
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write([]byte("layer"))
	require.NoError(t, err)

	dgst := digest.SHA512.FromString("layer")
	l, err := up.Finish(dgst)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Equal(t, "layer", string(readLayer(t, repo, dgst)))
}

func TestUploadFinishExistingKeepsLayer(t *testing.T) {
	repo := newTestRegistry().Repository("r")
	dgst := pushLayer(t, repo, []byte("layer")) // created at t0+1s
	again := pushLayer(t, repo, []byte("layer"))
	require.Equal(t, dgst, again)

	l, err := repo.Layers().Fetch(dgst)
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, t0.Add(time.Second), l.CreatedAt())
}

func TestUploadFinishMismatch(t *testing.T) {
	repo := New().Repository("r")
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write([]byte("lay"))
	require.NoError(t, err)

	want := digest.FromString("layer")
	_, err = up.Finish(want)
	require.ErrorIs(t, err, ErrDigestMismatch)
	assert.Contains(t, err.Error(), "expected "+want.String())
	assert.Contains(t, err.Error(), "actual "+digest.FromString("lay").String())
	ok, err := repo.Layers().Exists(want)
	require.NoError(t, err)
	assert.False(t, ok)

	// The upload stays open: write the rest and finish again.
	_, err = up.Write([]byte("er"))
	require.NoError(t, err)
	l, err := up.Finish(want)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Equal(t, "layer", string(readLayer(t, repo, want)))
}

func TestUploadFinishInvalidDigest(t *testing.T) {
	tests := []struct {
		name   string
		dgst   digest.Digest
		wantIs error
	}{
		{"empty", "", digest.ErrDigestInvalidFormat},
		{"no encoded part", "sha256:", digest.ErrDigestInvalidFormat},
		{"no algorithm", "abc", digest.ErrDigestInvalidFormat},
		{"short", "sha256:abc", digest.ErrDigestInvalidLength},
		{"unsupported", "md5:d41d8cd98f00b204e9800998ecf8427e", digest.ErrDigestUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := New().Repository("r")
			up, err := repo.Layers().Upload()
			require.NoError(t, err)
			_, err = up.Finish(tt.dgst)
			require.ErrorIs(t, err, tt.wantIs)
			assert.NotErrorIs(t, err, ErrDigestMismatch)

			_, err = repo.Layers().Resume(up.UUID())
			assert.NoError(t, err, "the upload stays open")
			assert.NoError(t, up.Cancel())
		})
	}
}

func TestUploadCloseResume(t *testing.T) {
	repo := newTestRegistry().Repository("r")
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write([]byte("abc"))
	require.NoError(t, err)
	_, err = up.Seek(0, io.SeekStart)
	require.NoError(t, err)
	require.NoError(t, up.Close())
	assertUploadClosed(t, up)

	resumed, err := repo.Layers().Resume(up.UUID())
	require.NoError(t, err)
	assert.Equal(t, up.UUID(), resumed.UUID())
	assert.Equal(t, up.StartedAt(), resumed.StartedAt())
	assert.Equal(t, "r", resumed.Name())
	pos, err := resumed.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	assert.Equal(t, int64(3), pos, "a resumed upload continues at the end")

	_, err = resumed.Write([]byte("def"))
	require.NoError(t, err)
	l, err := resumed.Finish(digest.FromString("abcdef"))
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestUploadResumeUnknown(t *testing.T) {
	_, err := New().Repository("r").Layers().Resume("no-such-upload")
	require.ErrorIs(t, err, ErrUnknownUpload)
	assert.EqualError(t, err, "inmemory: unknown upload r: no-such-upload")
}

func TestUploadCancel(t *testing.T) {
	repo := New().Repository("r")
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write([]byte("layer"))
	require.NoError(t, err)
	require.NoError(t, up.Cancel())

	_, err = repo.Layers().Resume(up.UUID())
	assert.ErrorIs(t, err, ErrUnknownUpload)
	ok, err := repo.Layers().Exists(digest.FromString("layer"))
	require.NoError(t, err)
	assert.False(t, ok)
	assertUploadClosed(t, up)
}

func TestUploadCancelClosed(t *testing.T) {
	repo := New().Repository("r")
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	require.NoError(t, up.Close())
	resumed, err := repo.Layers().Resume(up.UUID())
	require.NoError(t, err)
	require.NoError(t, resumed.Cancel())
	_, err = repo.Layers().Resume(up.UUID())
	assert.ErrorIs(t, err, ErrUnknownUpload)
}

func TestUploadTwoHandles(t *testing.T) {
	tests := []struct {
		name string
		end  func(storage.LayerUpload) error
	}{
		{"cancel", func(u storage.LayerUpload) error { return u.Cancel() }},
		{"finish", func(u storage.LayerUpload) error {
			l, err := u.Finish(digest.FromString("ab"))
			if err == nil {
				err = l.Close()
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := New().Repository("r")
			first, err := repo.Layers().Upload()
			require.NoError(t, err)
			_, err = first.Write([]byte("a"))
			require.NoError(t, err)

			second, err := repo.Layers().Resume(first.UUID())
			require.NoError(t, err)
			_, err = second.Write([]byte("b"))
			require.NoError(t, err)

			require.NoError(t, tt.end(second))
			assertUploadClosed(t, first)
		})
	}
}

// assertUploadClosed checks that every method of up that acts on the upload
// returns ErrUploadClosed.
func assertUploadClosed(t *testing.T, up storage.LayerUpload) {
	t.Helper()
	_, err := up.Write([]byte("x"))
	assert.ErrorIs(t, err, ErrUploadClosed, "Write")
	_, err = up.Seek(0, io.SeekStart)
	assert.ErrorIs(t, err, ErrUploadClosed, "Seek")
	_, err = up.Finish(digest.FromString(""))
	assert.ErrorIs(t, err, ErrUploadClosed, "Finish")
	assert.ErrorIs(t, up.Cancel(), ErrUploadClosed, "Cancel")
	assert.ErrorIs(t, up.Close(), ErrUploadClosed, "Close")
}
