// Package proxylabel reads the labels that put an orchestrator's workload behind the SE: the
// avi_proxy label (Avi objects, in Avi's JSON, refining the virtual service and pool) and
// FE-Proxy (yes: a north-south service on the label's VIP). Marathon apps and Docker containers
// carry the same labels, and both mappings read them here, so they mean the same everywhere.
package proxylabel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/avi-init/avi-init/model/avi"
)

// The labels that steer a mapping.
const (
	LabelKey        = "avi_proxy"
	FEProxyLabelKey = "FE-Proxy"
)

// Label is an avi_proxy label: Avi objects, in Avi's JSON, that refine the virtual service and
// the pool an app or container maps to. It reads only the fields DESIGN.md lists; any other
// field is an error, so that a setting the controller would silently drop is reported instead.
type Label struct {
	VirtualService *LabelVirtualService `json:"virtualservice"`
	Pool           *LabelPool           `json:"pool"`
}

// LabelVirtualService is what a label may set on a virtual service.
type LabelVirtualService struct {
	IPAddress         *avi.IPAddr          `json:"ip_address"`
	Subnet            *avi.Subnet          `json:"subnet"`
	Services          []LabelService       `json:"services"`
	AnalyticsPolicy   *avi.AnalyticsPolicy `json:"analytics_policy"`
	EastWestPlacement *bool                `json:"east_west_placement"`
	Enabled           *bool                `json:"enabled"`
}

// LabelService is one front-end port; the label's services match the workload's ports in order.
type LabelService struct {
	Port      int  `json:"port"`
	EnableSSL bool `json:"enable_ssl"`
}

// LabelPool is what a label may set on a pool.
type LabelPool struct {
	LBAlgorithm     string `json:"lb_algorithm"`
	LBAlgorithmHash string `json:"lb_algorithm_hash"`
}

// Parse reads an avi_proxy label strictly: one JSON object, known fields of the right types
// only. Values are checked later, with the objects they end up in.
func Parse(s string) (*Label, error) {
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return nil, errors.New("avi_proxy label: want a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var l Label
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("avi_proxy label: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("avi_proxy label: text after the JSON object")
	}
	return &l, nil
}

// describeJSONError says what is wrong in the label's own terms, without Go's type names.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s: got a JSON %s, want %s", typeErr.Field, typeErr.Value, jsonKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not valid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "not valid JSON: it ends early"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "an object"
	}
	return t.Kind().String()
}
