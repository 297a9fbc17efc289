// Package transport is mana-auth's HTTP layer: the router on net/http's
// ServeMux, the go-kit glue that turns core.Routes into servers, the one
// error encoder, and the middleware every request passes (recover, request
// id, client IP, logging, metrics, CORS, security headers, origin check,
// body limit, rate limit).
package transport
