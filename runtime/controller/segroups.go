package controller

import (
	"fmt"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// ensureCloudDefaults gives every cloud its built-in DefaultSEGroup and VRFs, as Avi creates
// them with each cloud. It runs with every write that may create a cloud, and at start for a
// store written before they existed.
func ensureCloudDefaults(tx *store.Tx) error {
	if err := ensureCloudVRFs(tx); err != nil {
		return err
	}
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

// deleteCloudDefaults deletes the service engine groups and VRFs of a cloud that goes: they go
// with it, unless something still uses one.
func deleteCloudDefaults(tx *store.Tx, cloudURL string) error {
	for _, g := range store.List[*avi.ServiceEngineGroup](tx) {
		if g.CloudRef == cloudURL {
			if err := tx.Delete(avi.KindServiceEngineGroup, g.UUID); err != nil {
				return err
			}
		}
	}
	for _, v := range store.List[*avi.VrfContext](tx) {
		if v.CloudRef == cloudURL {
			if err := tx.Delete(avi.KindVrfContext, v.UUID); err != nil {
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
