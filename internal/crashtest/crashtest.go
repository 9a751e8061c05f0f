// Package crashtest kills a writing process mid-stream, for the kill -9
// suites of the spool: the test binary runs one of its own tests as a
// child that writes and prints a line for each write that returned; the
// parent kills it with SIGKILL and learns what it had printed.
package crashtest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// KillMidStream runs the test named child of this test binary with env set
// to dir in its environment, kills it with SIGKILL once it printed at least
// lines lines, and returns every line it printed before it died. A line
// starting "error:" fails t.
func KillMidStream(t *testing.T, child, env, dir string, lines int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	var written []string
	scanner := bufio.NewScanner(stdout)
	for len(written) < lines && scanner.Scan() {
		line := scanner.Text()
		require.False(t, strings.HasPrefix(line, "error:"), line)
		written = append(written, line)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for scanner.Scan() { // what the child printed before it died
		written = append(written, scanner.Text())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the child was killed: %v", err)
	require.GreaterOrEqual(t, len(written), lines)
	return written
}
