//go:build !unix

package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// lockedLogs are the lock files held in this process: where flock is not
// available, only endpoints of one process are kept apart.
var lockedLogs sync.Map

// lockFile marks f's path as locked by this process until f is closed.
func lockFile(f *os.File) error {
	path, _ := filepath.Abs(f.Name())
	if _, taken := lockedLogs.LoadOrStore(path, true); taken {
		return fmt.Errorf("%w: %s", ErrLocked, f.Name())
	}
	return nil
}

// unlockFile releases the lock taken on f.
func unlockFile(f *os.File) {
	path, _ := filepath.Abs(f.Name())
	lockedLogs.Delete(path)
}
