package avi

import "time"

// Operational states of Avi's OperationalStatus that the controller reports.
const (
	OperUp          = "OPER_UP"
	OperDown        = "OPER_DOWN"
	OperDisabled    = "OPER_DISABLED"
	OperPartitioned = "OPER_PARTITIONED" // applied on some of its service engines, not on others
	OperResources   = "OPER_RESOURCES"   // no service engine to place it on
	OperUnknown     = "OPER_UNKNOWN"     // nothing reports it yet
)

// OperationalStatus is Avi's runtime state of an object: its state, why, and since when.
type OperationalStatus struct {
	State           string     `json:"state"`
	Reason          []string   `json:"reason,omitempty"`
	LastChangedTime *TimeStamp `json:"last_changed_time,omitempty"`
}

// TimeStamp is Avi's time: seconds and microseconds since the epoch.
type TimeStamp struct {
	Secs  int64 `json:"secs"`
	Usecs int64 `json:"usecs"`
}

// TimeStampOf is t as Avi writes it.
func TimeStampOf(t time.Time) *TimeStamp {
	return &TimeStamp{Secs: t.Unix(), Usecs: int64(t.Nanosecond() / 1000)}
}
