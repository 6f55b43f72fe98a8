package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/automations"
)

// hookItem is a webhook's trigger.item: the JSON body as sent (null for an empty body; a form's
// fields as an object, a field given more than once as a list of its values) and the
// request's headers, names in lower case, a repeated header's values joined with ", ". The
// credentials a client may send (Authorization, Proxy-Authorization, Cookie) are left out: a
// run's item is stored and shown, and the hook's secret already authenticates the call.
type hookItem struct {
	Body    json.RawMessage   `json:"body"`
	Headers map[string]string `json:"headers"`
}

// droppedHeaders are the headers a webhook's item leaves out.
var droppedHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true}

// hook answers POST /hooks/{secret}: 202 {"run_id": ...} once the run is recorded durably;
// 415 for a body that is neither JSON nor a form by its Content-Type, 413 past the size limit,
// 400 for bad JSON or a bad form, 404 for an unknown or disabled hook (the same answer for
// both).
func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	form := isForm(ct)
	if ct != "" && !form && !isJSON(ct) {
		fail(w, http.StatusUnsupportedMediaType, "the body must be JSON (Content-Type: application/json) or a form (application/x-www-form-urlencoded)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: "the body is larger than the limit of " + byteSize(s.maxBody)})
		return
	case err != nil:
		fail(w, http.StatusBadRequest, "read the body: "+err.Error())
		return
	}
	if form {
		if body, err = formJSON(body); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	item, err := hookItemJSON(body, r.Header)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	run, err := s.svc.Hook(r.Context(), r.PathValue("secret"), item)
	switch {
	case errors.Is(err, automations.ErrNotFound):
		fail(w, http.StatusNotFound, "no such hook")
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"run_id": run.ID})
}

// hookItemJSON returns the trigger.item of a webhook with body and header.
func hookItemJSON(body []byte, header http.Header) (json.RawMessage, error) {
	item := hookItem{Body: json.RawMessage("null"), Headers: make(map[string]string, len(header))}
	if len(bytes.TrimSpace(body)) > 0 {
		if !json.Valid(body) {
			var v any
			err := json.Unmarshal(body, &v)
			return nil, errors.New("the body is not valid JSON: " + err.Error())
		}
		item.Body = body
	}
	for name, values := range header {
		if k := strings.ToLower(name); !droppedHeaders[k] {
			item.Headers[k] = strings.Join(values, ", ")
		}
	}
	return json.Marshal(item)
}

// formJSON returns a form body's fields as a JSON object: a field given once is a string, one
// given more than once the list of its values. curl -d, Slack's slash commands and Twilio
// post forms.
func formJSON(body []byte) ([]byte, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("the body is not a valid form: " + err.Error())
	}
	obj := make(map[string]any, len(vals))
	for k, v := range vals {
		if len(v) == 1 {
			obj[k] = v[0]
		} else {
			obj[k] = v
		}
	}
	return json.Marshal(obj)
}

// isForm reports whether a Content-Type names a URL-encoded form.
func isForm(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// isJSON reports whether a Content-Type names JSON: application/json or a +json type.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// byteSize writes n bytes as "1 MiB", "512 KiB" or "100 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
