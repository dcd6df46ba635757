// Command ronaudit is the command-line tool of ron-audit.
//
//	ronaudit demo [-n N]   Micronode demo: append N records in RAM (default 100000), verify them, print the rates
//
// The subcommands of later releases (keygen, append, verify, dump) build on
// the same packages.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ronaudit demo [-n N]")
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(stderr)
		n := fs.Int("n", 100000, "records in the chain")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if *n < 1 {
			fmt.Fprintln(stderr, "ronaudit demo: -n must be at least 1")
			return 2
		}
		if err := demo(stdout, *n); err != nil {
			fmt.Fprintln(stderr, "ronaudit demo:", err)
			return 1
		}
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "ronaudit: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}
