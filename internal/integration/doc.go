// Package integration holds tests that need several plugins together:
// plugins never import each other, so the properties that span them are
// proven here, on the full stack.
package integration
