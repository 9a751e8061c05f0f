// Package interop holds the tests of regnotify against real things: the
// registries it receives events from, the CloudEvents SDK and the Standard
// Webhooks reference library. It is a module of its own, never published,
// so that they never weigh on the library's go.mod.
//
// docker/distribution v2.8.3 and distribution v3.1.2 cannot be linked into
// one binary (both register /debug/health on http.DefaultServeMux at init),
// so each has its package, with exported helpers other tests of this module
// reuse:
//
//   - harness: what a test does to any registry over its HTTP API (push OCI
//     and Docker schema-2 images and an index, pull, mount, delete), a
//     Collector, the regnotify receiver recording every request it accepts,
//     and the configuration files both registries' parsers and the config
//     package are compared on;
//   - registryv2: Start runs docker/distribution v2.8.3 in-process;
//   - registryv3: Start runs distribution v3.1.2 in-process;
//   - cesdk: the CloudEvents Go SDK against the endpoint and the receiver,
//     both ways;
//   - stdwebhooks: the Standard Webhooks reference library against the
//     endpoint's signatures and the receiver's verification, both ways.
package interop
