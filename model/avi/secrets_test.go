package avi

import (
	"reflect"
	"strings"
	"testing"
)

// Each secret is named by its JSON path in its object, whatever its place in Secrets.
func TestSecretFieldsNameEachSecretByItsPath(t *testing.T) {
	cloud := &Cloud{MesosConfiguration: &MesosConfiguration{MarathonConfigurations: []MarathonConfiguration{
		{MarathonURL: "http://a:8080", MarathonPassword: "pa"},
		{MarathonURL: "http://b:8080", MarathonToken: "tb"},
	}}}
	for _, c := range []struct {
		o    Object
		want []string
	}{
		{&User{Password: "p", PasswordHash: "h"}, []string{"password", "password_hash"}},
		{&CloudConnectorUser{PrivateKey: "k"}, []string{"private_key"}},
		{&SystemConfiguration{EmailConfiguration: &EmailConfiguration{AuthPassword: "s"}}, []string{"email_configuration.auth_password"}},
		{&SystemConfiguration{}, nil},
		{cloud, []string{
			"mesos_configuration.marathon_configurations[0].marathon_password", "mesos_configuration.marathon_configurations[0].marathon_token",
			"mesos_configuration.marathon_configurations[1].marathon_password", "mesos_configuration.marathon_configurations[1].marathon_token",
		}},
		{&ServiceEngine{CredentialHash: "c"}, []string{"credential_hash"}},
		{&JoinToken{SecretHash: "s"}, []string{"secret_hash"}},
		{&AuthToken{TokenHash: "t"}, []string{"token_hash"}},
		{&Pool{}, nil},
	} {
		fields, err := SecretFields(c.o)
		if err != nil {
			t.Errorf("%T: %v", c.o, err)
			continue
		}
		var got []string
		for i, f := range fields {
			got = append(got, f.Path)
			if f.Value != c.o.Secrets()[i] {
				t.Errorf("%T %s: not the field Secrets lists", c.o, f.Path)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%T: paths %q, want %q", c.o, got, c.want)
		}
	}
	for _, k := range Kinds {
		if _, err := SecretFields(k.New()); err != nil {
			t.Errorf("%s: %v", k.Kind, err)
		}
	}
}

// outside lists as its secret a string that is not one of its fields.
type outside struct{ Meta }

var notAField string

func (*outside) Defaults()          {}
func (*outside) Validate() error    { return nil }
func (*outside) Refs() []Ref        { return nil }
func (*outside) Secrets() []*string { return []*string{&notAField} }

func TestSecretFieldsRefusesASecretOutsideItsObject(t *testing.T) {
	if _, err := SecretFields(&outside{}); err == nil || !strings.Contains(err.Error(), "not one of its fields") {
		t.Errorf("a secret outside the object: %v, want an error", err)
	}
}
