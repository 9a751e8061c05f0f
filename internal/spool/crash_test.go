package spool

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/regnotify/notifications/internal/crashtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash suite re-executes the test binary: the child appends from
// several goroutines and prints each item once its Append returned; the
// parent kills it with SIGKILL mid-stream, reopens the log and reads every
// printed item back.
const crashChildEnv = "REGNOTIFY_SPOOL_CRASH_CHILD"

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestAppendSurvivesKill")
	}
	l, err := Open(dir, Options{SegmentSize: 64 << 10, Logger: quietOptions().Logger})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				items := [][]byte{fmt.Appendf(nil, "%d-%d-a", w, i), fmt.Appendf(nil, "%d-%d-b", w, i)}
				if _, err := l.Append(int64(i), items[:1+i%2], nil); err != nil {
					fmt.Println("error:", err)
					os.Exit(3)
				}
				mu.Lock()
				for _, it := range items[:1+i%2] {
					fmt.Fprintln(out, string(it))
				}
				_ = out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestAppendSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	written := crashtest.KillMidStream(t, "TestCrashChild", crashChildEnv, dir, 5000)

	l := openLog(t, dir, Options{})
	defer l.Close()
	got, _ := drain(t, l, 1000)
	require.GreaterOrEqual(t, len(got), len(written), "every item whose Append returned is read back")
	index := make(map[string]int, len(got))
	for i, item := range got {
		_, dup := index[item]
		require.False(t, dup, "%s read twice", item)
		index[item] = i
	}
	last := map[string]int{} // per appender, items in the order appended
	for _, item := range written {
		i, ok := index[item]
		require.True(t, ok, "%s was acknowledged by Append but is lost", item)
		w := item[:strings.IndexByte(item, '-')]
		if prev, seen := last[w]; seen {
			assert.Less(t, prev, i, "appender %s in order", w)
		}
		last[w] = i
	}
}
