// Command ronaudit is the command-line tool of ron-audit.
//
//	ronaudit keygen [-dir DIR] [-name NAME]       write an Ed25519 key pair (private key 0600)
//	ronaudit append --wal DIR --key KEY ...      append JSON Lines records durably
//	ronaudit verify DIR [--pub KEY]...           verify a log; exit 1 naming the first failure (3: it could not be read)
//	ronaudit dump DIR|FILE                       records as JSON Lines
//	ronaudit checkpoint|prove|verify-proof ...   checkpoints and proofs (sdk/checkpoint/SPEC.md)
//	ronaudit rotate --wal DIR --key OLD ...      key rotation inside the log
//	ronaudit export|verify-bundle ...            export bundles (sdk/export/FORMAT.md)
//	ronaudit demo [-n N] [DIR]                   Micronode then Macronode demo with figures
//
// "ronaudit help COMMAND" (or "ronaudit COMMAND -h") says what a command
// does, with an example, and lists its flags.
//
// # Exit status
//
// The exit status is a contract, so that a script (verify from cron, say)
// can tell evidence of tampering or damage from a system that could not
// do the job:
//
//	0  everything asked held, or was done
//	1  a verification failed: the data was read and does not verify
//	2  usage: bad arguments or flags (a flag that takes one value,
//	   given twice, too: only --pub is repeatable; an export bundle
//	   given to verify or dump as a segment file)
//	3  an operational error: a file that cannot be read, permission
//	   denied, a key file refused, output that could not be written,
//	   bad input, interrupted, a chain that cannot be checkpointed
//	   (a name too long for a directory, written before the SDK
//	   refused it: verify checks everything else first)
//
// 1, command by command: verify, a FAIL line (a record, link, signature,
// key transition or seal that fails; damage to the segments that is not a
// torn tail, a missing segment, a segment that is not a regular file; an
// unsealed tail; a kept checkpoint or --checkpoint the log does not
// extend; a log directory with no segment files; with --exports, a
// chain's bundles that fail, stop short of its newest kept checkpoint,
// hold fewer records than the log or vouch for more); verify-bundle and
// verify-proof, a FAIL line (a bundle, sequence, proof or checkpoint that
// fails, a file that is not a bundle or a proof, no bundles under DIR);
// dump, damage to the segments; append, rotate, checkpoint, prove and
// export, a log or chain that fails verification (they refuse to extend
// or vouch for it; a --wal directory with no segment files, as for
// verify and dump), and checkpoint --out FILE holding a checkpoint the
// log no longer extends; prove, a --checkpoint the log does not extend.
// A signature by a key none of the --pub keys is (unknown_key) is a
// failure: the data does not verify with the keys given.
//
// 3: whatever else stops a command that was given good arguments: an
// I/O error or permission denied reading the log, a bundle, a proof or a
// checkpoint (a path that does not exist, a symbolic link to nothing, a
// checkpoints directory that cannot be read); a key file refused
// (unreadable, a private key readable by others, malformed) or a key the
// chain retired, or that may not sign it (a chain a later key holds, one
// a rotation to the key cut short has not reached, one no transition in
// the log hands to it: append, checkpoint and export refuse it with the
// same message), given to sign; an output file or directory that cannot
// be written, or an --out file checkpoint will not replace (not a
// checkpoint of the chain); stdout that could not be written (a full
// disk; a closed pipe, without a word on stderr: "dump LOG | head";
// append then stops reading and says after which line, so the records
// it appended but could not acknowledge can be found); an input line
// append cannot take (--on-bad stop); a log locked by another writer; an
// append --wal directory that holds other files and no log (the keys'
// directory, say), or an --export directory it cannot make, refused
// before a line is read; no records to act on (checkpoint, export,
// rotate); SIGINT or SIGTERM during append, verify, dump, checkpoint or
// export, which stop cleanly on it and say on stderr how far they got and
// what was not done (verify gives no verdict; dump's lines are whole
// records; checkpoint and export write their output whole, or not at
// all).
//
// A command that meets both a verification failure and an operational
// error exits 1: the evidence wins (a log found tampered with is 1 even
// if writing the verdict then fails).
//
// Install it with go install ./tools/cmd/ronaudit in a clone of the
// repository (or go install
// github.com/rustyonions/ron-audit-go/tools/cmd/ronaudit@latest once a
// version is published).
package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

func main() {
	os.Exit(cli())
}

// cli runs the command line of the process. SIGPIPE is ignored first:
// by default the Go runtime kills a process whose write to stdout meets
// a closed pipe (exit 141, "verify LOG | head"), before run can judge
// it, so a tampered log found before the reader went away did not exit
// 1, and a cut dump or verify did not exit 3, as the exit status
// contract says. Ignored, the write returns EPIPE, which run judges.
func cli() int {
	signal.Ignore(syscall.SIGPIPE)
	return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

const usageText = `usage: ronaudit <command> [flags]

commands:
  keygen [-dir DIR] [-name NAME]   write an Ed25519 key pair: NAME.key (0600) and NAME.pub
  append --wal DIR --key KEY [--stream S] [--writer W] [--fsync batch|always] [--on-bad stop|skip]
         [--seal-every N] [--export DIR] [--pub EARLIER.pub]...
                                   append JSON Lines records from stdin; print "seq hash writer/stream" once durable;
                                   keep checkpoints in DIR/checkpoints (the only seals under --seal-every N);
                                   --export DIR writes a bundle after each checkpoint
  verify DIR|FILE [--pub KEY]... [--checkpoint CP] [--exports EXPORTDIR] [--allow-unsealed-tail]
                                   verify every record, link and signature of a log (or one segment file);
                                   print streams and heads; exit 1 naming the first failure (without --pub,
                                   signatures are not checked, and it says so); with --exports, every
                                   chain's bundles too, against its newest kept checkpoint (the offline audit)
  dump DIR|FILE                    print the records of a log (or one segment file) as JSON Lines
  checkpoint --wal DIR --key KEY --writer W --stream S [--pub EARLIER.pub]... [--allow-unsealed-tail] [--out FILE]
                                   sign a checkpoint (C2SP signed note) of a chain's current state, once the
                                   chain verifies and extends its kept checkpoints; refuses records nothing
                                   seals yet, and a key the chain retired before its end (retired_key);
                                   --out FILE replaces FILE only with a checkpoint that extends it
  prove --wal DIR --checkpoint CP --pub KEY [--pub KEY]... (--seq N | --old OLDCP)
                                   an inclusion proof of record N, or a consistency proof OLDCP -> CP;
                                   follows the log's key rotations from the --pub keys, as verify does
  verify-proof --checkpoint CP --pub KEY [--pub KEY]... [--old OLDCP] PROOF.json
                                   check a proof offline, with only public keys: trusts a checkpoint
                                   signed by any --pub key, at any size (it cannot see the log's
                                   rotations; verify-proof -h says more)
  rotate --wal DIR --key OLD --new-key NEW [--pub EARLIER.pub]...
                                   key rotation inside the log: a transition record signed by OLD names NEW;
                                   --pub the keys before OLD, if the log was rotated before
  export --wal DIR --key KEY --writer W --stream S [--pub EARLIER.pub]... [--allow-unsealed-tail] --out DIR
                                   write the next export bundle of a chain (records after the newest bundle in DIR),
                                   once the chain verifies as for checkpoint
  verify-bundle --pub KEY [--pub KEY]... [--checkpoint TRUSTED] FILE|DIR
                                   verify one bundle, or each chain's bundles under DIR as a sequence;
                                   exit 1 naming the first failure
  demo [-n N] [DIR]                the whole flow with figures: Micronode (RAM) then Macronode (durable log
                                   in DIR, default a new temporary directory); N records in RAM (default 100000), N/2 durable

ronaudit help COMMAND (or ronaudit COMMAND -h): what it does, an example, its flags
exit status: 0 done (everything held), 1 a verification failed (the data was read and does not verify),
  2 bad arguments or flags (only --pub may be given twice), 3 an operational error (I/O, permissions,
  a key file refused, output that could not be written, bad input, interrupted); 1 wins over 3
`

// command is one subcommand: it parses its own flags from args.
type command func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

var commands = map[string]command{
	"keygen":        keygenCmd,
	"append":        appendCmd,
	"verify":        verifyCmd,
	"dump":          dumpCmd,
	"checkpoint":    checkpointCmd,
	"prove":         proveCmd,
	"verify-proof":  verifyProofCmd,
	"rotate":        rotateCmd,
	"export":        exportCmd,
	"verify-bundle": verifyBundleCmd,
	"demo":          demoCmd,
}

// run runs the command args name. Its output goes through an outWriter:
// output that could not be written (a full disk under "> cp.note", a
// closed pipe) is an operational error, exit 3, said on stderr, when the
// command returned 0: a checkpoint, a dump or append's acknowledgments
// cut short are not the job done; said on stderr, but for a closed pipe.
// A verification failure (1) or usage error (2) the command returned
// stays what it is (worse).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &outWriter{w: stdout}
	code := dispatch(args, stdin, out, stderr)
	if out.err != nil {
		name := "ronaudit"
		if len(args) > 0 {
			name += " " + args[0]
		}
		// A closed pipe is a reader that went away on purpose ("dump LOG
		// | head -3"): the status says the output was cut, without a word
		// that would follow every such pipe.
		if !errors.Is(out.err, syscall.EPIPE) {
			fmt.Fprintf(stderr, "%s: writing to stdout: %v\n", name, out.err)
		}
		code = worse(code, exitError)
	}
	return code
}

// outWriter passes writes to w and keeps the first error; after it, every
// write fails with it, so that a command's later output does not land
// after a gap.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.err = err
	}
	return n, err
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if cmd, ok := commands[args[1]]; ok {
				return cmd([]string{"-h"}, stdin, stdout, stdout) // its -h, on stdout
			}
			fmt.Fprintf(stderr, "ronaudit %s: unknown command %q\n%s", args[0], args[1], usageText)
			return 2
		}
		fmt.Fprint(stdout, usageText)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ronaudit: unknown command %q\n%s", args[0], usageText)
		return 2
	}
	return cmd(args[1:], stdin, stdout, stderr)
}

// loadPubs loads the public key files of --pub flags.
func loadPubs(paths []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, p := range paths {
		pub, err := sdk.LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

// openHint follows an error opening a log: when a record is signed by a
// key the command was not given, it says which flag gives it, and when
// not to use it: --pub with a key the log was never rotated to lets
// this key sign beside the log's, in a chain the first key alone no
// longer verifies (unknown_key), which is what a newcomer holding the
// wrong key did on the advice of "give its public key with --pub". When
// a checkpoint kept with the log is damaged (a signature that does not
// verify, a signature line of the key with its name or key hash changed,
// a file that is no checkpoint), it says that no key is to be looked for:
// the file is to be put right, for the command signs nothing on top of
// it (a bundle's checkpoint, an *export.Error, is not one of those).
func openHint(stderr io.Writer, cmd string, err error) {
	if errors.Is(err, sdk.ErrUnknownKey) {
		fmt.Fprintf(stderr, "ronaudit %s: the log holds records signed by another key: if this key took over from it (ronaudit rotate), give its public key with --pub EARLIER.pub; if not, sign with the log's key, or rotate the log to this one first\n", cmd)
	}
	var ee *export.Error
	if (errors.Is(err, checkpoint.ErrBadSignature) || errors.Is(err, checkpoint.ErrFormat)) && !errors.As(err, &ee) {
		fmt.Fprintf(stderr, "ronaudit %s: the kept checkpoint named above is damaged or was tampered with, not another key's: copy the log directory aside as evidence, then put the genuine note back from a copy kept off the machine, or move it out of the checkpoints directory once ronaudit verify --checkpoint with such a copy passes (docs/PERFORMANCE.md, Durable log refused at open)\n", cmd)
	}
}

// parseFailed is the exit status after fs.Parse fails: 0 when the user
// asked for -h (the usage went to stderr), 2 for a bad flag.
func parseFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func demoCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("demo", stderr)
	n := fs.Int("n", 100000, "records of the Micronode part (the Macronode part appends half as many)")
	if err := parse(fs, reorder(args)); err != nil {
		return parseFailed(err)
	}
	if fs.NArg() > 1 {
		return badArgs(stderr, "demo", fmt.Sprintf("unexpected argument %q", fs.Arg(1)))
	}
	if *n < 1 {
		return badArgs(stderr, "demo", fmt.Sprintf("-n %d: want 1 or more records", *n))
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit demo:", err); return exitCode(err) }
	dir := fs.Arg(0)
	// DIR is made first: one that cannot be (a file in its place) failed
	// only after the Micronode part had run.
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(err)
		}
	}
	if err := demo(stdout, *n); err != nil {
		return fail(err)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "ronaudit-demo-")
		if err != nil {
			return fail(err)
		}
		dir = d
	}
	if err := macronode(stdout, dir, max(1, *n/2)); err != nil {
		return fail(err)
	}
	return 0
}
