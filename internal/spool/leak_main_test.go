package spool

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives its tests: every
// test closes what it opened, and Close releases the goroutines it owns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
