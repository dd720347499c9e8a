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
// uuid filters, sort (a field; -field descending), fields (those to return; name, url and uuid
// always come), and page_size with page. Without page_size every object comes.
type listQuery struct {
	names, uuids   []string
	sort           string
	desc           bool
	fields         []string
	page, pageSize int
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
	if q.Has("page") && lq.pageSize == 0 {
		return lq, &avi.FieldError{Field: "page", Reason: "needs page_size"}
	}
	return lq, nil
}

// keep reports whether an object passes the name and uuid filters.
func (lq listQuery) keep(o avi.Object) bool {
	m := o.GetMeta()
	return (len(lq.names) == 0 || slices.Contains(lq.names, m.Name)) && (len(lq.uuids) == 0 || slices.Contains(lq.uuids, m.UUID))
}

// answer is the list answer for these objects (already filtered and presented): sorted, the page
// asked for with next and previous links, each object with the fields asked for.
func (lq listQuery) answer(r *http.Request, objs []avi.Object) map[string]any {
	out := map[string]any{"count": len(objs)}
	if lq.sort == "" && len(lq.fields) == 0 && lq.pageSize == 0 {
		out["results"] = objs
		return out
	}
	docs := make([]map[string]any, len(objs))
	for i, o := range objs {
		data, _ := json.Marshal(o)
		json.Unmarshal(data, &docs[i])
	}
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
