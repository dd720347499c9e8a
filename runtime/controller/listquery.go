package controller

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/avi-init/avi-init/model/avi"
)

// maxPageSize bounds page_size, as Avi's API does.
const maxPageSize = 200

// listQuery is what a list request asks beyond its kind, in Avi's query parameters: name and
// uuid filters, search ((field,text) or text in the name), refers_to and referred_by
// (<kind>:<uuid>), <field>.uuid (a reference field naming that uuid), sort (a field; -field
// descending), fields (those to return; name, url and uuid always come), and page_size with
// page. Without page_size every object comes. skip_default is taken: objects come with their
// defaults, which a client that fills them itself (Terraform) reads the same.
type listQuery struct {
	names, uuids   []string
	searchField    string
	search         string
	refersTo       string            // URL of the object the listed ones must refer to
	referredBy     ref               // the object that must refer to the listed ones
	refUUIDs       map[string]string // reference field: uuid it must name
	sort           string
	desc           bool
	fields         []string
	page, pageSize int
}

// ref is an object named by kind and uuid.
type ref struct {
	kind avi.KindInfo
	uuid string
}

// kindUUID parses Avi's <kind>:<uuid>.
func kindUUID(param, v string) (ref, error) {
	kind, uuid, ok := strings.Cut(v, ":")
	k, known := avi.LookupKind(kind)
	if !ok || !known || uuid == "" {
		return ref{}, &avi.FieldError{Field: param, Reason: fmt.Sprintf("%q: want <kind>:<uuid>, such as pool:pool-<uuid>", v)}
	}
	return ref{k, uuid}, nil
}

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{page: 1}
	split := func(v string) []string {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if v := q.Get("name"); v != "" {
		lq.names = []string{v}
	}
	lq.uuids = split(q.Get("uuid"))
	lq.fields = split(q.Get("fields"))
	if s := q.Get("sort"); s != "" {
		lq.sort, lq.desc = strings.TrimPrefix(s, "-"), strings.HasPrefix(s, "-")
	}
	for _, p := range []struct {
		name     string
		into     *int
		min, max int
	}{{"page_size", &lq.pageSize, 1, maxPageSize}, {"page", &lq.page, 1, 1 << 30}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < p.min || n > p.max {
			return lq, &avi.FieldError{Field: p.name, Reason: fmt.Sprintf("%q: want %d to %d", v, p.min, p.max)}
		}
		*p.into = n
	}
	if v := q.Get("search"); v != "" {
		lq.search = v
		if inner, ok := strings.CutPrefix(v, "("); ok && strings.HasSuffix(inner, ")") {
			field, text, found := strings.Cut(strings.TrimSuffix(inner, ")"), ",")
			if !found || field == "" {
				return lq, &avi.FieldError{Field: "search", Reason: fmt.Sprintf("%q: want (field,text) or text", v)}
			}
			lq.searchField, lq.search = field, text
		}
		lq.search = strings.ToLower(lq.search)
	}
	if v := q.Get("refers_to"); v != "" {
		r, err := kindUUID("refers_to", v)
		if err != nil {
			return lq, err
		}
		lq.refersTo = r.kind.Kind.URL(r.uuid)
	}
	if v := q.Get("referred_by"); v != "" {
		r, err := kindUUID("referred_by", v)
		if err != nil {
			return lq, err
		}
		lq.referredBy = r
	}
	for key, vals := range q {
		if field, ok := strings.CutSuffix(key, ".uuid"); ok && len(vals) > 0 {
			if lq.refUUIDs == nil {
				lq.refUUIDs = map[string]string{}
			}
			lq.refUUIDs[field] = vals[0]
		}
	}
	if q.Has("page") && lq.pageSize == 0 {
		return lq, &avi.FieldError{Field: "page", Reason: "needs page_size"}
	}
	return lq, nil
}

// keep reports whether an object passes the filters; referred holds the URLs the referred_by
// object refers to.
func (lq listQuery) keep(o avi.Object, referred map[string]bool) bool {
	m := o.GetMeta()
	if len(lq.names) > 0 && !slices.Contains(lq.names, m.Name) || len(lq.uuids) > 0 && !slices.Contains(lq.uuids, m.UUID) {
		return false
	}
	if lq.referredBy.uuid != "" && !referred[m.URL] {
		return false
	}
	if lq.refersTo != "" && !slices.ContainsFunc(o.Refs(), func(r avi.Ref) bool { return *r.Value == lq.refersTo }) {
		return false
	}
	if lq.search == "" && len(lq.refUUIDs) == 0 {
		return true
	}
	var doc map[string]any
	data, _ := json.Marshal(o)
	json.Unmarshal(data, &doc)
	for field, uuid := range lq.refUUIDs {
		if !namesUUID(doc[field], uuid) {
			return false
		}
	}
	if lq.search != "" {
		field := cmp.Or(lq.searchField, "name")
		v, ok := doc[field]
		if !ok {
			return false
		}
		text, isText := v.(string)
		if !isText {
			raw, _ := json.Marshal(v)
			text = string(raw)
		}
		return strings.Contains(strings.ToLower(text), lq.search)
	}
	return true
}

// namesUUID reports whether a reference field's value (one reference or a list) names uuid.
func namesUUID(v any, uuid string) bool {
	switch v := v.(type) {
	case string:
		return avi.UUIDOf(v) == uuid
	case []any:
		return slices.ContainsFunc(v, func(e any) bool { return namesUUID(e, uuid) })
	}
	return false
}

// answer is the list answer for these objects (already filtered and presented): sorted, the page
// asked for with next and previous links, each object with the fields asked for.
func (lq listQuery) answer(r *http.Request, docs []map[string]any) map[string]any {
	out := map[string]any{"count": len(docs)}
	if lq.sort != "" {
		slices.SortStableFunc(docs, func(a, b map[string]any) int {
			c := compareJSON(a[lq.sort], b[lq.sort])
			if lq.desc {
				return -c
			}
			return c
		})
	}
	if len(lq.fields) > 0 {
		for i, d := range docs {
			kept := map[string]any{}
			for _, f := range append([]string{"name", "url", "uuid"}, lq.fields...) {
				if v, ok := d[f]; ok {
					kept[f] = v
				}
			}
			docs[i] = kept
		}
	}
	if lq.pageSize > 0 {
		start := min((lq.page-1)*lq.pageSize, len(docs))
		end := min(start+lq.pageSize, len(docs))
		link := func(page int) string {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(page))
			return (&url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
		}
		if end < len(docs) {
			out["next"] = link(lq.page + 1)
		}
		if lq.page > 1 {
			out["previous"] = link(lq.page - 1)
		}
		docs = docs[start:end]
	}
	out["results"] = docs
	return out
}

// compareJSON orders decoded JSON values: numbers as numbers, the rest as text; absent first.
func compareJSON(a, b any) int {
	if a == nil || b == nil {
		return cmp.Compare(boolInt(a != nil), boolInt(b != nil))
	}
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
