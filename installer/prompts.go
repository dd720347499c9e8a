package installer

import (
	"io"
	"strings"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/terminal"
)

// Terminal asks questions with survey on a terminal.
type Terminal struct {
	In  terminal.FileReader
	Out terminal.FileWriter
	Err io.Writer
}

// Ask shows msg (which carries its default in brackets, as the Avi script shows it), asks again
// while validate refuses the answer, and returns def for an empty answer.
func (t Terminal) Ask(msg, def string, validate func(string) error) (string, error) {
	var ans string
	err := survey.AskOne(&survey.Input{Message: msg + withDefault(msg, def)}, &ans,
		survey.WithStdio(t.In, t.Out, t.Err),
		survey.WithValidator(func(v any) error {
			s, _ := v.(string)
			if s == "" {
				s = def
			}
			return validate(s)
		}))
	if err != nil {
		return "", err
	}
	if ans == "" {
		ans = def
	}
	return ans, nil
}

// withDefault adds " (Default [X])" to a question that does not already show its default.
func withDefault(msg, def string) string {
	if def == "" || strings.Contains(msg, "(Default [") {
		return ""
	}
	return " (Default [" + def + "])"
}
