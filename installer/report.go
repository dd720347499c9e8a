package installer

import (
	"encoding/json"
	"fmt"
	"io"
)

// Action is one thing an install did, or with --dry-run would do.
type Action struct {
	Phase   string `json:"phase"`
	Kind    string `json:"kind"`
	Target  string `json:"target"`
	Changed bool   `json:"changed"`
	Detail  string `json:"detail,omitempty"`
	// Content is the full text of a file written, or the container spec, in dry runs.
	Content string `json:"content,omitempty"`
}

// Result closes the report.
type Result struct {
	OK      bool   `json:"ok"`
	Changed bool   `json:"changed"`
	DryRun  bool   `json:"dry_run"`
	Error   string `json:"error,omitempty"`
	// SetupToken is the controller's one-time setup token, while it is not set up.
	SetupToken string `json:"setup_token,omitempty"`
}

// Report is the document `--output json` prints: summary, checks, actions and result.
type Report struct {
	Summary *Request      `json:"summary"`
	Checks  []CheckResult `json:"checks"`
	Actions []Action      `json:"actions"`
	Result  Result        `json:"result"`
}

// reporter prints progress as it happens (to stdout in text mode; to stderr in json mode, so
// stdout holds the JSON document alone) and collects the report.
type reporter struct {
	json   bool
	stdout io.Writer
	log    io.Writer
	report Report
}

func newReporter(format string, stdout, stderr io.Writer) *reporter {
	r := &reporter{json: format == "json", stdout: stdout, log: stdout}
	if r.json {
		r.log = stderr
	}
	return r
}

func (r *reporter) printf(format string, args ...any) {
	fmt.Fprintf(r.log, format, args...)
}

func (r *reporter) add(a Action) {
	r.report.Actions = append(r.report.Actions, a)
	if a.Changed {
		r.report.Result.Changed = true
	}
}

// finish closes the report with err and prints it in json mode.
func (r *reporter) finish(err error) error {
	r.report.Result.OK = err == nil
	if err != nil {
		r.report.Result.Error = err.Error()
	}
	if r.json {
		enc := json.NewEncoder(r.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(r.report); encErr != nil && err == nil {
			return fmt.Errorf("write report: %w", encErr)
		}
	}
	return err
}

// checkOutput accepts the report formats of --output: text or json.
func checkOutput(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("--output %q: want text or json", format)
	}
	return nil
}
