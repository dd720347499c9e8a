package installer

import (
	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/templates"
)

// settingsFromFile reads a role's settings back from the env file an install wrote.
func settingsFromFile(data []byte) (containerspec.Settings, error) {
	vars, err := templates.ParseEnv(data)
	if err != nil {
		return containerspec.Settings{}, err
	}
	return containerspec.FromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}
