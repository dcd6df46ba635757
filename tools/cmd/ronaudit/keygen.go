package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/rustyonions/ron-audit-go/sdk"
)

func keygenCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("keygen", stderr)
	dir := fs.String("dir", ".", "directory for the key files")
	name := fs.String("name", "audit", "base name: NAME.key and NAME.pub")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if fs.NArg() != 0 {
		return usageErr(stderr, "keygen")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "ronaudit keygen:", err)
		return 1
	}
	priv, pubPath, id, err := sdk.GenerateKeyFiles(*dir, *name)
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit keygen:", err)
		return 1
	}
	pub, err := sdk.LoadPublicKey(pubPath)
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit keygen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "private key %s (mode 0600)\npublic key  %s\nkey id      %s\npublic      %s\n", priv, pubPath, id, hex.EncodeToString(pub))
	return 0
}
