package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// helperEnv, when set to a JSON list of arguments, makes the test binary run
// regnotify with them as main does (signals cancel the context) and exit:
// the tests run commands that exit, or are signalled, in a process of their
// own.
const helperEnv = "REGNOTIFY_TEST_ARGS"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			os.Exit(3)
		}
		ctx, stop := signalContext()
		code := run(ctx, args, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// helperCommand returns a command running regnotify args in a process of its
// own.
func helperCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	encoded, err := json.Marshal(args)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(encoded))
	return cmd
}

// syncBuffer is a bytes.Buffer safe for a command's goroutines and a test's.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testSecret(seed string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(seed), 32)[:32])
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)/`)

// startReceive runs `regnotify receive` in-process on a free loopback port
// and returns its URL and outputs. The command is stopped, and must return 0,
// when the test ends.
func startReceive(t *testing.T, args ...string) (url string, stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"receive", "--listen", "127.0.0.1:0"}, args...), stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, 0, <-done, "receive stops cleanly: %s", stderr.String())
		assert.Contains(t, stderr.String(), "stopped")
	})
	require.Eventually(t, func() bool { return listeningRE.MatchString(stderr.String()) }, 10*time.Second, time.Millisecond,
		"receive listens: %s", stderr)
	return listeningRE.FindStringSubmatch(stderr.String())[1], stdout, stderr
}

// receive stopped while a client is still sending its body exits 0, once
// the grace for the requests it answers is over: it was asked to stop.
func TestReceiveStopsWithARequestHalfSent(t *testing.T) {
	t.Parallel() // it waits out the grace
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"receive", "--listen", "127.0.0.1:0"}, &stdout, &stderr) }()
	require.Eventually(t, func() bool { return listeningRE.MatchString(stderr.String()) }, 10*time.Second, time.Millisecond)
	url := listeningRE.FindStringSubmatch(stderr.String())[1]
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", notifications.EventsMediaType)
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n') // the handler reads the body
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	_, err = conn.Write([]byte("{"))
	require.NoError(t, err)
	cancel()
	assert.Equal(t, 0, <-done, "stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "regnotify receive: stopped")
}

func TestUsageAndHelp(t *testing.T) {
	const bad = "whsec_c2hvcnQtYnV0LXNlY3JldA=="
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr []string
		notStderr  string
	}{
		{"no command", nil, 2, []string{"demo", "receive", "send"}, ""},
		{"unknown command", []string{"nope"}, 2, []string{`unknown command "nope"`, "receive", "send"}, ""},
		{"help", []string{"--help"}, 0, []string{"demo", "receive", "send"}, ""},
		{"receive --help", []string{"receive", "--help"}, 0, []string{"-listen", "-secret", "-tolerance", "-max-body", "-format"}, ""},
		{"receive --format xml", []string{"receive", "--format", "xml"}, 2, []string{`--format "xml"`}, ""},
		{"send -h", []string{"send", "-h"}, 0, []string{"-url", "-secret", "-header", "-timeout"}, ""},
		{"demo --help", []string{"demo", "--help"}, 0, []string{"Usage: regnotify demo"}, ""},
		{"help send", []string{"help", "send"}, 0, []string{"Usage: regnotify send", "-url", "-secret"}, ""},
		{"help nope", []string{"help", "nope"}, 2, []string{`unknown command "nope"`, "receive", "send"}, ""},
		{"help send extra", []string{"help", "send", "extra"}, 2, []string{"Usage: regnotify <command>", "receive", "send"}, ""},
		{"--help extra", []string{"--help", "extra"}, 2, []string{"Usage: regnotify <command>", "receive", "send"}, ""},
		{"send without url", []string{"send"}, 2, []string{"--url is required", "-url"}, ""},
		{"send with no time", []string{"send", "--url", "http://127.0.0.1:1/", "--timeout", "0s"}, 2, []string{"--timeout must be more than 0"}, ""},
		{"send with a bad flag", []string{"send", "--nope"}, 2, []string{"-url"}, ""},
		{"send to a relative url", []string{"send", "--url", "/events"}, 1, []string{"not absolute"}, ""},
		{"send with a bad header", []string{"send", "--url", "http://127.0.0.1:1/", "--header", "Authorization Bearer s3cret"}, 1,
			[]string{"--header number 1"}, "s3cret"},
		{"send with a bad secret", []string{"send", "--url", "http://127.0.0.1:1/", "--secret", bad}, 1,
			[]string{"SigningSecrets[0]"}, "c2hvcnQtYnV0LXNlY3JldA"},
		{"receive with a bad secret", []string{"receive", "--secret", testSecret("good"), "--secret", bad}, 1,
			[]string{"secret 1"}, "c2hvcnQtYnV0LXNlY3JldA"},
		{"receive --listen ''", []string{"receive", "--listen", ""}, 2, []string{"--listen must not be empty"}, ""},
		{"receive with an argument", []string{"receive", "extra"}, 2, []string{`unexpected argument "extra"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr.String(), want)
			}
			if tt.notStderr != "" {
				assert.NotContains(t, stderr.String(), tt.notStderr)
			}
		})
	}
}

func TestSendToReceive(t *testing.T) {
	old, current := testSecret("old"), testSecret("current")
	url, received, rejections := startReceive(t, "--secret", current)

	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"send", "--url", url + "/events", "--secret", old, "--secret", current,
		"--header", "X-Registry: test"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	assert.Equal(t, "200 OK\n", stdout.String())

	require.Eventually(t, func() bool { return strings.Count(received.String(), "\n") == 1 }, 10*time.Second, time.Millisecond)
	var event notifications.Event
	require.NoError(t, json.Unmarshal([]byte(received.String()), &event), "one JSON line")
	assert.Equal(t, notifications.EventActionPush, event.Action)
	assert.Equal(t, notifications.EventTargetTypeManifest, event.Target.Type)
	assert.Equal(t, "regnotify/sample", event.Target.Name)
	assert.Equal(t, "latest", event.Target.Tag)
	assert.NoError(t, event.Target.Digest.Validate())
	assert.NotEmpty(t, event.ID)

	// Rejected requests are summarised on stderr, one line each.
	resp, err := http.Post(url+"/events", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	require.Eventually(t, func() bool { return strings.Contains(rejections.String(), "415 Unsupported Media Type") }, 10*time.Second, time.Millisecond)
	assert.Regexp(t, `regnotify receive: 415 Unsupported Media Type: POST /events from 127\.0\.0\.1:\d+: unsupported media type: content type is not .+\n`, rejections.String())
}

// TestSendToReceiveCloudEvents: send --format cloudevents sends a
// structured CloudEvent, and receive --format cloudevents prints one.
func TestSendToReceiveCloudEvents(t *testing.T) {
	url, received, _ := startReceive(t, "--format", "cloudevents")
	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"send", "--url", url + "/events", "--format", "cloudevents"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	require.Eventually(t, func() bool { return strings.Count(received.String(), "\n") == 1 }, 10*time.Second, time.Millisecond)
	var ce struct {
		SpecVersion, ID, Source, Type, Subject string
		Data                                   notifications.Event
	}
	require.NoError(t, json.Unmarshal([]byte(received.String()), &ce), "one JSON line")
	assert.Equal(t, "1.0", ce.SpecVersion)
	assert.Equal(t, "com.github.regnotify.registry.manifest.push", ce.Type)
	assert.Equal(t, "regnotify/sample:latest", ce.Subject)
	assert.Equal(t, "//registry.local:5000/regnotify-send", ce.Source)
	assert.Equal(t, ce.ID, ce.Data.ID)

	code = run(t.Context(), []string{"send", "--url", url, "--format", "xml"}, &stdout, &stderr)
	assert.NotZero(t, code)
	assert.Contains(t, stderr.String(), `unknown WireFormat "xml"`)
}

// TestSendNotAccepted runs send in a process of its own: an endpoint that is
// still retrying when send gives up ends with that process.
// An event the receiver accepts while send gives up (interrupted, or out
// of time), in the moment Close keeps delivering, was sent: exit 0.
func TestSendAcceptedWhileClosing(t *testing.T) {
	got, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		once.Do(func() { close(got) })
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(slow.Close)
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"send", "--url", slow.URL, "--timeout", "1m"}, &stdout, &stderr) }()
	<-got
	cancel() // as Ctrl-C does, while the event is out
	close(release)
	assert.Equal(t, 0, <-code, "stderr: %s", stderr.String())
	assert.Equal(t, "200 OK\n", stdout.String())
}

func TestSendNotAccepted(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	t.Cleanup(refusing.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	receiverURL, _, rejections := startReceive(t, "--secret", testSecret("receiver"))

	tests := []struct {
		name       string
		args       []string
		wantStderr []string
		maxTime    time.Duration
	}{
		{"wrong secret", []string{"--url", receiverURL, "--secret", testSecret("sender"), "--timeout", "500ms"},
			[]string{"answered 401 Unauthorized", "not accepted within 500ms", "× 401 Unauthorized"}, 10 * time.Second},
		{"refused content", []string{"--url", refusing.URL, "--timeout", "1m"},
			[]string{"answered 400 Bad Request", "400 Bad Request refuses this content"}, 30 * time.Second},
		{"nobody listening", []string{"--url", gone.URL, "--timeout", "300ms"},
			[]string{"not accepted within 300ms", "no answer"}, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := helperCommand(t, append([]string{"send"}, tt.args...)...)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "send exits non-zero: %v; stderr: %s", err, stderr.String())
			assert.Equal(t, 1, exit.ExitCode())
			assert.Empty(t, stdout.String())
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr.String(), want)
			}
			assert.Less(t, time.Since(start), tt.maxTime)
		})
	}
	assert.Contains(t, rejections.String(), "401 Unauthorized: POST / from 127.0.0.1:")
}

func TestReceiveStopsOnSignal(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := helperCommand(t, "receive", "--listen", "127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			lines := make(chan string)
			go func() {
				defer close(lines)
				for sc := bufio.NewScanner(stderr); sc.Scan(); {
					lines <- sc.Text()
				}
			}()
			select {
			case line := <-lines:
				require.Contains(t, line, "listening on")
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("receive did not start")
			}
			require.NoError(t, cmd.Process.Signal(sig))
			var rest []string
			for line := range lines {
				rest = append(rest, line)
			}
			require.NoError(t, cmd.Wait(), "exit 0 after %v", sig)
			assert.Equal(t, []string{"regnotify receive: stopped"}, rest)
		})
	}
}
