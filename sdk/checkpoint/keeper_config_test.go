package checkpoint

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestNewKeeperConfigIsErrConfig: the host's mistakes in NewKeeper's
// arguments are sdk.ErrConfig, naming what is wrong. A nil
// *sdk.Ed25519Signer (sdk.LoadSigner's result with its error dropped)
// is no nil interface: it passed the nil check and panicked in KeyID.
// A negative Every was refused, but as an *Error that matched no
// sentinel of a configuration error.
func TestNewKeeperConfigIsErrConfig(t *testing.T) {
	for _, tc := range []struct {
		what, want string
		signer     sdk.Signer
		opts       KeeperOptions
	}{
		{"a nil *Ed25519Signer", "signer is a nil *sdk.Ed25519Signer", (*sdk.Ed25519Signer)(nil), KeeperOptions{}},
		{"a negative Every", "KeeperOptions.Every is negative", testSigner(t, "keeper config"), KeeperOptions{Every: -1}},
	} {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = errors.New("panic")
					t.Errorf("NewKeeper with %s: panic %v", tc.what, r)
				}
			}()
			_, err = NewKeeper(t.TempDir(), tc.signer, tc.opts)
		}()
		if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewKeeper with %s: %v, want sdk.ErrConfig saying %q", tc.what, err, tc.want)
		}
	}
}
