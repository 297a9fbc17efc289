package core_test

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/mana/mana-auth/internal/apitest"
)

func jsonLen(b []byte, n *int) error {
	var a []any
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*n = len(a)
	return nil
}

func readResp(resp *http.Response) *apitest.Response {
	r := &apitest.Response{Status: resp.StatusCode, Header: resp.Header}
	r.Body, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(r.Body, &r.JSON)
	return r
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
