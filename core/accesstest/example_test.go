package accesstest_test

import (
	"context"
	"fmt"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// Each identity provider reports a user in its own shape: run a test over all of them.
func ExampleServer_UserFrom() {
	team := accesstest.NewServer()
	defer team.Close()
	v, _ := core.NewVerifier(team.Config())

	for _, idp := range []accesstest.IdP{accesstest.GoogleWorkspace, accesstest.EntraID, accesstest.OneTimePIN, accesstest.SAML} {
		id, err := v.Identity(context.Background(), team.UserFrom(idp, "ann@example.com", "admins"))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-11s groups %v, saml_attributes %s, name %q, version %d\n", idp, id.Groups, id.SAMLAttributes, id.Name, id.Version)
	}
	// Output:
	// google-apps groups [{ymkubkycjgfnZPG admins admins@example.com}], saml_attributes , name "ann", version 2
	// azureAD     groups [{67869dc2-5b49-ef63-1fa8-e1307055270e admins }], saml_attributes , name "ann", version 2
	// onetimepin  groups [], saml_attributes , name "", version 0
	// saml        groups [], saml_attributes {"groups":["admins"]}, name "ann", version 2
}
