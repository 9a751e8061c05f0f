//go:build !unix

package notifications

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// lockedSpools are the lock files held in this process: where flock is not
// available, only endpoints of one process are kept apart.
var lockedSpools sync.Map

// lockFile marks f's path as locked by this process until f is closed.
func lockFile(f *os.File) error {
	path, _ := filepath.Abs(f.Name())
	if _, taken := lockedSpools.LoadOrStore(path, true); taken {
		return fmt.Errorf("%w: %s", ErrSpoolLocked, f.Name())
	}
	return nil
}

// unlockFile releases the lock taken on f.
func unlockFile(f *os.File) {
	path, _ := filepath.Abs(f.Name())
	lockedSpools.Delete(path)
}
