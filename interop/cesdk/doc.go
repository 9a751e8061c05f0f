// Package cesdk checks regnotify's CloudEvents against the CloudEvents Go
// SDK, both ways: the SDK's HTTP receiver parses what an endpoint sends, and
// the receiver decodes what the SDK sends in binary, structured and batched
// mode. It has tests only.
package cesdk
