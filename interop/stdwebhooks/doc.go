// Package stdwebhooks checks regnotify's webhook signatures against the
// Standard Webhooks reference library (its Go implementation), both ways:
// the library verifies what a signing endpoint sends, with each of the
// endpoint's secrets, and the receiver package accepts what the library
// signs. It has tests only.
package stdwebhooks
