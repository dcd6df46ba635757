package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// helps is each command's -h: its usage line(s), then what it does, then
// an example, then (from flags) its flags. The usage lines alone, up to the
// first blank line, are what a command prints on bad arguments (usageErr),
// after a line saying what is wrong (badArgs).
var helps = map[string]string{
	"keygen": `usage: ronaudit keygen [-dir DIR] [-name NAME]

Writes a new Ed25519 key pair: DIR/NAME.key, the private key (PEM PKCS#8,
mode 0600) that append, checkpoint, export and rotate sign with, and
DIR/NAME.pub, the public key (PEM PKIX) that verifiers take with --pub.
It never replaces a key file: an existing one is an error (exit 3), as
is a directory it cannot write; an empty -dir or a -name that is not a
plain file name is a usage error (exit 2).

example:
  ronaudit keygen -dir keys -name ops
`,

	"append": `usage: ronaudit append --wal DIR --key KEY [--writer W] [--stream S] [--fsync batch|always]
       [--on-bad stop|skip] [--seal-every N] [--export DIR] [--pub OLD.pub ...] < records.jsonl

Each input line is one record as JSON, as the test vectors render it:
  {"kind":"capIssued","reason":"...","actor":{"capId":"..."},"attrs":[{"key":"k","value":"v"}]}
Fields left out are empty. seq and prev are filled in; tsMs 0 or left out
is the time of the append; writerId and stream left out are --writer and
--stream. One line "seq hash writer/stream" is printed per record once it
is durable. Signed checkpoints of every chain are kept in DIR/checkpoints.
DIR is a log, or new or empty: a directory holding other files and no
log (the keys' directory, say) is refused (exit 3), left as it was.

Exit 1 when the log or its kept checkpoints fail verification (nothing
is appended to it); exit 3 when the key is refused (unreadable, loose
mode, retired by the chain), the log cannot be read or written, a line
is bad (--on-bad stop; a writerId or stream over 255 bytes escaped as a
directory name is one), a chain the key may not sign (one a rotation
to it cut short has not reached, one a later key holds, one no key
transition in the log hands to it: open the log with the key that holds
it, or rotate from that key first), a chain of the log cannot be
checkpointed (one with such a name, written before that limit: the
others are), stdout cannot be written (a closed pipe: it stops reading
then, since it could not say what is durable), or on SIGINT/SIGTERM
(what was read is still acknowledged and checkpointed); exit 2 for bad
flags, a --writer or --stream that is not UTF-8 among them (before a
line is read).

example:
  echo '{"kind":"capIssued","reason":"issued","actor":{"capId":"cap-7"}}' |
    ronaudit append --wal log --key keys/ops.key --writer svc@inst-1 --stream caps
`,

	"verify": `usage: ronaudit verify DIR|SEGMENT-FILE [--pub KEY]... [--checkpoint CP] [--exports EXPORTDIR] [--allow-unsealed-tail]

Verifies every record of a log (or of one segment file): canonical bytes,
hashes, links, signatures and key rotations with the --pub keys, and the
checkpoints kept in DIR/checkpoints. Prints "ok" and each chain's head, or
"FAIL:" naming the file, offset, stream, seq and reason of the first
failure, and exits 1. Without --pub, signatures are not checked, and it
says so. With --checkpoint (DIR only, not one segment file), the log
must also extend CP: a cut, rolled back or forked log fails. A directory
with no segment files fails too.

With --exports EXPORTDIR (DIR only; needs --pub), the directory a Node
or append --export writes bundles to: the one-pass offline audit
(node.VerifyDir). Each chain's bundles must verify as a sequence from
seq 1 that reaches the chain's newest kept checkpoint and agrees with it
(a deleted last bundle, or a chain's bundles all deleted, fails:
truncated), ends no further than it and than the log, and holds every
record of the log (records in no bundle fail: after a crash, open and
close the log again first, which checkpoints and exports them); bundles
of a chain the log has no record of fail too (rollback). Prints one
"exports" line per chain. verify-bundle alone, without --checkpoint,
cannot see a deleted last bundle.

What cannot be read is no verdict: a path that does not exist (DIR, or
EXPORTDIR: not a chain's bundles all deleted, which is 1), a segment
or directory it may not read (or a symbolic link to nothing), a
DIR/checkpoints, or a chain's directory under it, that is there but is
not a directory it can read, a CP or --pub file it cannot read: said on
stderr, exit 3. Neither "ok" nor "FAIL:": the log was not verified.
A chain whose writerId or stream is over 255 bytes escaped as a
directory name (written before that limit) can have no checkpoint: the
other chains and its records are verified (a failure is exit 1), then
it is named on stderr, exit 3.
An export bundle given as the segment file is refused, exit 2
(verify-bundle checks it), as is a FILE that is no segment at all (its
first 8 bytes hold fewer than half of the segment magic's, and are not
zeros: JSON Lines, say); a segment whose header is damaged is a FAIL,
exit 1.
Exit 1 wins: a failure found before stdout could not be written stays 1.
SIGINT/SIGTERM stops it: exit 3, no verdict, and stderr says after how
many records.

examples:
  ronaudit verify log --pub keys/ops.pub --checkpoint cp.note
  ronaudit verify log --pub keys/ops.pub --exports exports
`,

	"dump": `usage: ronaudit dump DIR|SEGMENT-FILE

Prints the records of a log (or of one segment file) as JSON Lines: each
record's position (file:offset), hash, key id and signature when signed,
and the record as append reads it. Each character that a terminal does
not show as it is (a control, a right-to-left override or other bidi
control, a zero-width or format character, a separator but the space)
is written as its JSON escape, "\u202e": the line shows the record's
bytes, and decodes to its text exactly. It reads; it does not verify the
chain (ronaudit verify does). A torn tail, which it does not print, is
named on stderr. Damage to the segments (not a torn tail), or a
directory with no segment files, exits 1; a log it cannot read, or
stdout it cannot write, exits 3 (a closed pipe, as under head, without
a word on stderr). An export bundle is not a segment file: refused,
exit 2 (verify-bundle checks it; no command prints its records), as is
a FILE that is no segment at all (as for verify); a segment whose header
is damaged exits 1. SIGINT/SIGTERM stops it between two records: exit
3, the lines printed whole records, and stderr says after how many.

example:
  ronaudit dump log | head -3
`,

	"checkpoint": `usage: ronaudit checkpoint --wal DIR --key KEY --writer W --stream S [--pub OLD.pub]... [--allow-unsealed-tail] [--out FILE]

Signs a checkpoint of one chain as it stands (a C2SP signed note of its
size and Merkle root, sdk/checkpoint/SPEC.md), to keep away from the log
and check it later with verify --checkpoint, prove or verify-bundle. It
verifies the chain first, and refuses a chain that does not extend the
checkpoints kept in DIR/checkpoints, records nothing seals yet (unless
--allow-unsealed-tail), a key the chain retired, and a key append
refuses for the chain, with append's message (one a rotation to it cut
short has not reached, one a later key holds, one no transition in the
log hands to it, by its record signatures or, sealed by checkpoints, by
its newest checkpoint in DIR/checkpoints: what it signed would not
verify from the chain's first key). --out FILE replaces an existing FILE only with a checkpoint that
extends the one it holds.

Exit 1 when the chain or its kept checkpoints fail verification, or
FILE holds a checkpoint of the chain the log no longer extends (the log
was cut, rolled back or forked); exit 3 when the key is refused (the
chain retired it, or append would refuse it), the chain has no records,
the log cannot be read, FILE holds anything else, or the checkpoint
cannot be written, or on SIGINT/SIGTERM (while the chain is verified:
nothing is signed or written; while the checkpoint is written: it is
written whole first).

example:
  ronaudit checkpoint --wal log --key keys/ops.key --writer svc@inst-1 --stream caps --out cp.note
`,

	"prove": `usage: ronaudit prove --wal DIR --checkpoint CP --pub KEY [--pub KEY]... (--seq N | --old OLDCP)

Prints as JSON a proof that record N is in checkpoint CP (--seq N), or
that CP extends the older checkpoint OLDCP (--old; its size must not be
above CP's), for verify-proof to check offline. It verifies the chain and
the checkpoints against the log first, following the log's key rotations
from the --pub keys: exit 1 when they fail. A --seq past CP's size, or
an OLDCP larger than CP or of another chain, is a usage error (exit 2);
a file it cannot read, exit 3.

examples:
  ronaudit prove --wal log --checkpoint cp.note --pub keys/ops.pub --seq 2 > proof.json
  ronaudit prove --wal log --checkpoint cp.note --old cp-before.note --pub keys/ops.pub > consistency.json
`,

	"verify-proof": `usage: ronaudit verify-proof --checkpoint CP --pub KEY [--pub KEY]... [--old OLDCP] PROOF.json

Checks an inclusion proof (record seq N is in CP) or a consistency proof
(CP extends OLDCP) offline, with only public keys. A consistency proof
needs --old, no larger than CP (larger: the two are swapped), and an
inclusion proof takes none: otherwise verify-proof exits 2, a usage
error. It prints
"ok" or "FAIL:" naming the failure (exit 1): a proof or checkpoint that
does not verify, a proof of other sizes or another chain, a file that is
not a proof, or one not as prove writes it (its keys, their case and
order, lower-case hex: whitespace aside, a proof has one file). A file it cannot read (PROOF.json, CP, OLDCP, a --pub key)
is no verdict: said on stderr, exit 3.

What it trusts: a checkpoint signed by ANY of the --pub keys, at any size.
Offline, it cannot see the log's key transitions, so it cannot tell that a
key was retired before a checkpoint's size: verify and prove, which read
the log, and verify-bundle, which reads the bundles' transitions, refuse
such a checkpoint (retired_key); verify-proof does not. Across a rotation
give the old and the new public key: the older checkpoint is then checked
with the one and the newer with the other. Give only keys you trust for
every size, or check the checkpoints themselves with
ronaudit verify --checkpoint or verify-bundle --checkpoint.

examples:
  ronaudit verify-proof --checkpoint cp.note --pub keys/ops.pub proof.json
  ronaudit verify-proof --checkpoint cp.note --old cp-before.note --pub keys/ops.pub consistency.json
`,

	"rotate": `usage: ronaudit rotate --wal DIR --key OLD.key --new-key NEW.key [--pub EARLIER.pub]...

Moves every chain of the log to a new signing key: a transition record
signed by OLD names NEW, NEW signs from then on, and OLD can sign nothing
more in those chains. Verifiers holding OLD's public key follow the
rotation. Run it again with the same keys to finish a rotation a crash
cut short (until then, append with NEW refuses the chains it had not
reached); a chain it has moved already is left as it is, and each line
names the seq of its transition. --pub: the keys before OLD, if the log
was rotated before (records NEW signed verify with NEW's key).
A --wal path that does not exist, or a log with no records, is an error
(exit 3, as are a key refused and a log it cannot read or write); a
directory with no segment files (as for verify), a log or kept
checkpoint that fails verification, exit 1.

example:
  ronaudit rotate --wal log --key keys/ops.key --new-key keys/ops2.key
`,

	"export": `usage: ronaudit export --wal DIR --key KEY --writer W --stream S [--pub OLD.pub]... [--allow-unsealed-tail] --out DIR

Writes the next export bundle of one chain under --out (WRITER/STREAM/
FIRST-LAST.bundle, sdk/export/FORMAT.md): the records after the newest
bundle there, a checkpoint signed by KEY and a consistency proof to the
bundle before. The chain is verified first, and KEY refused, as for
checkpoint. A bundle is written whole or not at all and never replaces a
file; with no new records it says so and exits 0. A .tmp-* file a crash left in the
chain's directory an hour ago or more is removed, and said on stderr. A
*.bundle file there whose name is not FIRST-LAST.bundle (20 digits each)
is refused, not taken for the newest bundle.

Exit 1 when the chain, its kept checkpoints or the bundles already under
--out fail verification (or the log no longer extends them); exit 3 when
the key is refused (the chain retired it, or append would refuse it),
the chain has no records, or the log cannot be read or the bundle
written, or on SIGINT/SIGTERM (while the chain is verified: no bundle is
written; while the bundle is written: it is written whole first); exit 2
for a --writer or --stream no checkpoint can name (not UTF-8).

example:
  ronaudit export --wal log --key keys/ops.key --writer svc@inst-1 --stream caps --out exports
`,

	"verify-bundle": `usage: ronaudit verify-bundle --pub KEY [--pub KEY]... [--checkpoint TRUSTED] FILE|DIR

Verifies export bundles offline, with only public keys: one bundle FILE,
or each chain's bundles under DIR as a sequence from seq 1, following key
rotations from the --pub keys. With --checkpoint, the bundles of its chain
must reach TRUSTED and agree with it (a sequence cut short fails); without
it, a sequence whose last bundles were deleted verifies as a shorter one.
Two directories under DIR holding bundles of one chain must agree: the
longer sequence must reach and agree with the shorter's last checkpoint,
else the signer signed two histories of the chain (fork).
To audit every chain's bundles against the log and the checkpoints kept
with it, use verify LOGDIR --exports DIR. Under
DIR, a *.bundle file whose name is not FIRST-LAST.bundle (20 digits
each) fails (format), naming it, as does a symbolic link to a directory
(not followed: give it as DIR of its own), and so does a DIR with no
bundles. Prints "ok" per chain, or "FAIL:" naming the first failure,
and exits 1; a name under DIR that is not plain text (a newline, a
terminal escape) is written quoted or escaped, so that it cannot make a
line of the report. What cannot be read is no verdict: a path that does not
exist, a bundle or directory it may not read, a symbolic link that
cannot be followed (to nothing, a loop), a TRUSTED or --pub file it
cannot read: said on stderr, exit 3.

example:
  ronaudit verify-bundle --pub keys/ops.pub --checkpoint cp.note exports
`,

	"demo": `usage: ronaudit demo [-n N >= 1] [DIR]

The whole flow on local files, with figures (what make demo runs): N
records appended and verified in RAM (Micronode), then N/2 in a durable
log in DIR (Macronode, opened with sdk/node: group commit, signed
checkpoints kept in DIR/wal/checkpoints, reopen and replay, verify, a
kept checkpoint and an inclusion proof). DIR is a new temporary directory by
default; a second run on the same DIR appends to its log.

example:
  ronaudit demo -n 1000 /tmp/ronaudit-demo
`,
}

// flags returns a FlagSet for a subcommand that reports to stderr; its -h
// prints the command's help, then its flags.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ronaudit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		unwrapOnce(fs) // PrintDefaults names a flag's type from its own value
		fmt.Fprint(stderr, helps[name])
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// usageErr prints a command's usage lines, for bad arguments, and returns
// the exit status of a usage error.
func usageErr(stderr io.Writer, name string) int {
	usage, _, _ := strings.Cut(helps[name], "\n\n")
	fmt.Fprintln(stderr, usage)
	fmt.Fprintf(stderr, "run 'ronaudit %s -h' for what it does, an example and its flags\n", name)
	return 2
}

// badArgs says why the arguments of command name are wrong, then its
// usage lines, and returns the exit status of a usage error. The usage
// lines alone left the user to diff their command against them:
// "append --key k.key" (no --wal) and "append log --key k.key" printed
// the same.
func badArgs(stderr io.Writer, name, why string) int {
	fmt.Fprintf(stderr, "ronaudit %s: %s\n", name, why)
	return usageErr(stderr, name)
}

// argsProblem says what is wrong with the arguments fs parsed, "" if
// nothing: a word where none belongs (first: the flag package stops at
// it, so flags after it were not read and would be reported missing),
// then a flag of required left empty, then a missing positional argument.
// arg names the one positional argument the command takes ("" for none).
func argsProblem(fs *flag.FlagSet, arg string, required ...string) string {
	want := 0
	if arg != "" {
		want = 1
	}
	if fs.NArg() > want {
		why := fmt.Sprintf("unexpected argument %q", fs.Arg(want))
		if want == 0 {
			why += ": this command takes flags only, each with its value after it"
		}
		return why
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return "--" + name + " is required"
		}
	}
	if fs.NArg() < want {
		return "missing argument " + arg
	}
	return ""
}

// parse parses args with fs, refusing a flag that takes one value given
// twice (a usage error, as flag reports it): the flag package keeps the
// last, so "--wal prod ... --wal test" wrote to test and
// "--checkpoint a --checkpoint b" checked only b. Repeatable flags
// (multiFlag: --pub) are left as they are.
//
// It says a bad flag as badArgs says other bad arguments: one line,
// then the usage lines. The flag package, which parses quietly here,
// printed its error and then the whole -h, some 50 lines above which
// the one saying what was wrong scrolled away. -h gets the whole help.
func parse(fs *flag.FlagSet, args []string) error {
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(*multiFlag); !ok {
			f.Value = &onceValue{Value: f.Value}
		}
	})
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	unwrapOnce(fs)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
	case err != nil:
		badArgs(out, strings.TrimPrefix(fs.Name(), "ronaudit "), err.Error())
	}
	return err
}

// unwrapOnce gives fs's flags back the values parse wrapped.
func unwrapOnce(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if o, ok := f.Value.(*onceValue); ok {
			f.Value = o.Value
		}
	})
}

// onceValue is a flag value that may be set once.
type onceValue struct {
	flag.Value
	set bool
}

func (o *onceValue) Set(s string) error {
	if o.set {
		return errors.New("given twice")
	}
	o.set = true
	return o.Value.Set(s)
}

// IsBoolFlag keeps a boolean flag one that takes no value.
func (o *onceValue) IsBoolFlag() bool {
	b, ok := o.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
