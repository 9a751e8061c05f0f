package notifications

import (
	"math/rand/v2"
	"time"
)

// BackoffPolicy decides how long a retrying sink waits before its next
// attempt. Implementations must be safe for concurrent use.
type BackoffPolicy interface {
	// Delay returns the wait before the next attempt, given how many attempts
	// in a row have failed (1 after the first failure). Zero means retry at
	// once.
	Delay(consecutiveFailures int) time.Duration
}

// ThresholdBackoff is the endpoint's retry policy, the original package's:
// Threshold attempts in a row are made without waiting (the first, and the
// retries of its first Threshold-1 failures); after that every attempt waits
// Backoff, or, when MaxBackoff is larger than Backoff, a wait that doubles
// from Backoff up to MaxBackoff. Jitter spreads each wait by up to that
// fraction either way, so that a fleet of senders does not retry in lockstep.
type ThresholdBackoff struct {
	// Threshold is how many attempts in a row are made without waiting.
	Threshold int

	// Backoff is the wait once Threshold failures were reached.
	Backoff time.Duration

	// MaxBackoff, when larger than Backoff, caps the doubling wait; otherwise
	// the wait stays at Backoff.
	MaxBackoff time.Duration

	// Jitter is the fraction (0 to 1) by which each wait is spread at random
	// either way; 0.2 means ±20%.
	Jitter float64
}

var _ BackoffPolicy = ThresholdBackoff{}

// Delay implements BackoffPolicy.
func (p ThresholdBackoff) Delay(consecutiveFailures int) time.Duration {
	if consecutiveFailures < p.Threshold {
		return 0
	}
	d := p.Backoff
	if p.MaxBackoff > p.Backoff {
		for i := p.Threshold; i < consecutiveFailures && d < p.MaxBackoff; i++ {
			d *= 2
		}
		d = min(d, p.MaxBackoff)
	}
	if p.Jitter > 0 && d > 0 {
		spread := (rand.Float64()*2 - 1) * p.Jitter
		d += time.Duration(float64(d) * spread)
	}
	return d
}
