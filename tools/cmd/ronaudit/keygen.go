package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/sdk"
)

func keygenCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("keygen", stderr)
	dir := fs.String("dir", ".", "directory for the key files")
	name := fs.String("name", "audit", "base name: NAME.key and NAME.pub")
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, ""); why != "" {
		return badArgs(stderr, "keygen", why)
	}
	if !plainName(*name) {
		// Checked before anything is made: sdk.GenerateKeyFiles refuses it
		// too, but after the directory is created, and as any failure.
		fmt.Fprintf(stderr, "ronaudit keygen: -name %q is not a plain file name (NAME.key and NAME.pub go in -dir)\n", *name)
		return usageErr(stderr, "keygen")
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "ronaudit keygen: -dir is empty (the default is the current directory, .)")
		return usageErr(stderr, "keygen")
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit keygen:", err); return exitError }
	// fsutil.MkdirAll, not os.MkdirAll: each directory it creates has its
	// entry fsynced in its parent, else a power loss after "private key"
	// is printed can take the directory away with the key fsynced in it.
	if err := fsutil.MkdirAll(*dir); err != nil {
		return fail(err)
	}
	priv, pubPath, id, err := sdk.GenerateKeyFiles(*dir, *name)
	if err != nil {
		return fail(err)
	}
	pub, err := sdk.LoadPublicKey(pubPath)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "private key %s (mode 0600)\npublic key  %s\nkey id      %s\npublic      %s\n", priv, pubPath, id, hex.EncodeToString(pub))
	return 0
}

// plainName reports whether name is one sdk.GenerateKeyFiles takes: a
// plain file name, not empty, ".", ".." or a path.
func plainName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && filepath.Base(name) == name
}
