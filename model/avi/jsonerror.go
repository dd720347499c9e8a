package avi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// JSONFieldError turns an error decoding a JSON object into a field error, so that a wrong type,
// an unknown field or a syntax error is reported by the field at fault.
func JSONFieldError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return &FieldError{Field: "body", Reason: "want a JSON object, got " + te.Value}
	case errors.As(err, &te):
		return &FieldError{Field: te.Field, Reason: fmt.Sprintf("want %s, got %s", te.Type, te.Value)}
	case errors.As(err, &se):
		return &FieldError{Field: "body", Reason: fmt.Sprintf("not valid JSON at byte %d", se.Offset)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &FieldError{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Reason: "unknown field"}
	case errors.Is(err, io.EOF):
		return &FieldError{Field: "body", Reason: "is empty: want a JSON object"}
	}
	return &FieldError{Field: "body", Reason: err.Error()}
}
