//go:build unix

package notifications

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockChildEnv names the spool directory of TestSpoolLockChild.
const lockChildEnv = "REGNOTIFY_LOCK_CHILD_SPOOL"

// TestSpoolLockChild opens a spooled endpoint, says so, and holds it until
// it is killed, or its parent is gone (its stdin ends).
func TestSpoolLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("run by TestSpoolLockAcrossProcesses")
	}
	openCrashEndpoint(dir, "locked")
	fmt.Println("open")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0) // without closing the endpoint: as a crash would
}

// README, the spool: "an exclusive flock so that two endpoints (in one
// process or two) never share one": another process holding the spool
// makes OpenEndpoint fail with ErrSpoolLocked, and its death (kill -9)
// frees it.
func TestSpoolLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe() // the child ends when it ends, should this process die first
	require.NoError(t, err)
	defer stdin.Close()
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "open\n", line, "the child opened the endpoint")

	config := fastConfig()
	config.SpoolDir = dir
	_, err = OpenEndpoint("locked", "http://127.0.0.1:1/", config)
	assert.ErrorIs(t, err, ErrSpoolLocked, "held by another process")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	killed = true
	e, err := OpenEndpoint("locked", "http://127.0.0.1:1/", config)
	require.NoError(t, err, "a killed process's lock is gone")
	assert.NoError(t, e.Close())
}
