package controller

import (
	"fmt"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// ensureDefaultSEGroups gives every cloud its built-in DefaultSEGroup, as Avi creates one with
// each cloud. It runs with every write that may create a cloud, and at start for a store written
// before groups existed.
func ensureDefaultSEGroups(tx *store.Tx) error {
	for _, c := range store.List[*avi.Cloud](tx) {
		if _, ok := tx.ByNameInScope(avi.KindServiceEngineGroup, c.URL, avi.DefaultSEGroup); ok {
			continue
		}
		g := &avi.ServiceEngineGroup{Meta: avi.Meta{Name: avi.DefaultSEGroup}, CloudRef: c.URL}
		if err := tx.Create(g); err != nil {
			return fmt.Errorf("%s of cloud %s: %w", avi.DefaultSEGroup, c.Name, err)
		}
	}
	return nil
}

// deleteCloudSEGroups deletes the service engine groups of a cloud that goes: they go with it,
// unless an SE or a virtual service is still in one.
func deleteCloudSEGroups(tx *store.Tx, cloudURL string) error {
	for _, g := range store.List[*avi.ServiceEngineGroup](tx) {
		if g.CloudRef == cloudURL {
			if err := tx.Delete(avi.KindServiceEngineGroup, g.UUID); err != nil {
				return err
			}
		}
	}
	return nil
}

// joinGroup is the URL of the group an SE joining names (empty: avi.DefaultSEGroup). A name
// that several clouds have is Default-Cloud's.
func joinGroup(tx *store.Tx, name string) (string, error) {
	if name == "" {
		name = avi.DefaultSEGroup
	}
	var found []*avi.ServiceEngineGroup
	for _, g := range store.List[*avi.ServiceEngineGroup](tx) {
		if g.Name == name {
			found = append(found, g)
		}
	}
	if len(found) == 1 {
		return found[0].URL, nil
	}
	if id, ok := tx.ByNameInScope(avi.KindServiceEngineGroup, tx.DefaultCloud(), name); ok {
		return avi.KindServiceEngineGroup.URL(id), nil
	}
	return "", &avi.FieldError{Field: "se_group", Reason: fmt.Sprintf("%q: no such service engine group", name)}
}
