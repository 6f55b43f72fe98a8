package blocks

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Parse modes of call_api's parse field.
const (
	parseAuto = "auto" // by the response's Content-Type
	parseJSON = "json"
	parseText = "text"
	parseXML  = "xml"
	parseForm = "form"
	parseNone = "none" // the body is not read into the output (nil)
)

var parseModes = []string{parseAuto, parseJSON, parseText, parseXML, parseForm, parseNone}

// mediaType returns the lower-case media type of a Content-Type value, without parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// modeFor picks the parse mode for a media type, for parse: auto. "" means neither JSON, XML,
// form nor text: the body becomes a string when it is UTF-8 and base64 otherwise.
func modeFor(mt string) string {
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseJSON
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return parseXML
	case mt == "application/x-www-form-urlencoded":
		return parseForm
	case strings.HasPrefix(mt, "text/"):
		return parseText
	}
	return ""
}

// parseBody turns a response body into the value of steps.<id>.body (see CallAPI).
func parseBody(mode, contentType string, data []byte) (any, error) {
	if mode == parseAuto {
		mode = modeFor(mediaType(contentType))
	}
	switch mode {
	case parseNone:
		return nil, nil
	case parseText:
		return string(data), nil
	case parseJSON, parseXML, parseForm:
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, nil // 204, HEAD, or an empty body under a JSON content type
		}
	}
	switch mode {
	case parseJSON:
		return decodeJSON(data)
	case parseXML:
		return decodeXML(data)
	case parseForm:
		q, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, fmt.Errorf("invalid form body: %w", err)
		}
		return valuesMap(q), nil
	}
	if utf8.Valid(data) {
		return string(data), nil
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// valuesMap turns repeated values (url.Values, http.Header) into a mapping whose single values are
// strings and repeated ones lists of strings.
func valuesMap(v map[string][]string) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		out[k] = oneOrList(vs)
	}
	return out
}

func oneOrList(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	l := make([]any, len(vs))
	for i, s := range vs {
		l[i] = s
	}
	return l
}

// responseHeaders returns the headers of a response with lower-case names.
func responseHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		lk, ok := lowerNames[k]
		if !ok {
			lk = strings.ToLower(k)
		}
		out[lk] = oneOrList(vs)
	}
	return out
}

// lowerNames holds the lower-case names of common response headers, so that most responses
// need no new strings for their header names.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Alt-Svc", "Cache-Control", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range",
		"Content-Security-Policy", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive",
		"Last-Modified", "Link", "Location", "Pragma", "Ratelimit-Limit", "Ratelimit-Remaining",
		"Ratelimit-Reset", "Referrer-Policy", "Retry-After", "Server", "Set-Cookie",
		"Strict-Transport-Security", "Transfer-Encoding", "Vary", "Via", "Www-Authenticate",
		"X-Content-Type-Options", "X-Frame-Options", "X-Powered-By", "X-Ratelimit-Limit",
		"X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Request-Id", "X-Xss-Protection",
	} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// maxXMLDepth bounds the nesting of an XML document, as encoding/json bounds JSON's.
const maxXMLDepth = 10000

// xmlElem is an element being read.
type xmlElem struct {
	name     string
	m        map[string]any // attributes ("@name") and children; nil while there are none
	text     strings.Builder
	children bool
}

// decodeXML reads an XML document into a tree templates can walk: {root: element}. An element
// is a mapping of its attributes ("@name"), its child elements by name (a list when a name
// repeats) and its text ("#text", when not blank); an element with text only is that text
// (trimmed), and an empty one "". Namespace prefixes stay in names ("dc:creator").
func decodeXML(data []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charsetReader
	var stack []*xmlElem
	var root any
	rootName := ""
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid XML body: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && rootName != "" {
				return nil, fmt.Errorf("invalid XML body: a second root element <%s> at offset %d", xmlName(t.Name), dec.InputOffset())
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("invalid XML body: elements nested deeper than %d", maxXMLDepth)
			}
			e := &xmlElem{name: xmlName(t.Name)}
			if len(t.Attr) > 0 {
				e.m = make(map[string]any, len(t.Attr))
				for _, a := range t.Attr {
					e.m["@"+xmlName(a.Name)] = a.Value
				}
			}
			if len(stack) == 0 {
				rootName = e.name
			}
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != xmlName(t.Name) {
				return nil, fmt.Errorf("invalid XML body: unexpected </%s> at offset %d", xmlName(t.Name), dec.InputOffset())
			}
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			v := e.value()
			if len(stack) == 0 {
				root = v
				continue
			}
			stack[len(stack)-1].add(e.name, v)
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("invalid XML body: text outside the root element at offset %d", dec.InputOffset())
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("invalid XML body: <%s> is not closed", stack[len(stack)-1].name)
	}
	if rootName == "" {
		return nil, errors.New("invalid XML body: no root element")
	}
	return map[string]any{rootName: root}, nil
}

func xmlName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func (e *xmlElem) add(name string, v any) {
	e.children = true
	if e.m == nil {
		e.m = map[string]any{}
	}
	prev, ok := e.m[name]
	switch l := prev.(type) {
	case xmlList:
		e.m[name] = append(l, v)
	default:
		if ok {
			e.m[name] = xmlList{prev, v}
		} else {
			e.m[name] = v
		}
	}
}

// xmlList marks a list of repeated children while the parent is read; value turns it into []any.
type xmlList []any

func (e *xmlElem) value() any {
	text := strings.TrimSpace(e.text.String())
	if e.m == nil {
		return text
	}
	if e.children {
		for k, v := range e.m {
			if l, ok := v.(xmlList); ok {
				e.m[k] = []any(l)
			}
		}
	}
	if text != "" {
		e.m["#text"] = text
	}
	return e.m
}

// charsetReader lets XML declared as ISO-8859-1 or US-ASCII be read; Go's decoder reads UTF-8 only.
func charsetReader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		return latin1Reader{bufio.NewReader(in)}, nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}

// latin1Reader converts ISO-8859-1 (and so ASCII) to UTF-8.
type latin1Reader struct{ r io.ByteReader }

func (l latin1Reader) Read(p []byte) (int, error) {
	if len(p) < utf8.UTFMax {
		return 0, io.ErrShortBuffer
	}
	n := 0
	for n+2 <= len(p) {
		c, err := l.r.ReadByte()
		if err != nil {
			return n, err
		}
		n += utf8.EncodeRune(p[n:], rune(c))
	}
	return n, nil
}
