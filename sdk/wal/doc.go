// Package wal is the durable write-ahead log under the SDK's Macronode
// store: a directory of segment files holding checksummed frames, with
// group-commit fsync, crash recovery and a lock-free reader. It stores
// frames; it does not interpret their payloads beyond the first byte, the
// frame type.
//
// # Format
//
// FORMAT.md in this directory is the specification; in short:
//
//   - The directory has mode 0700 (Open refuses group or other access);
//     an existing directory is a log's if it holds a segment or LOCK, or
//     nothing but a checkpoints directory: Open refuses any other that is
//     not empty (ErrConfig), rather than mix a log with the files of
//     another use (a private key, say) that every copy of it would carry;
//     segment files are 0600 and named %016d.seg by segment number from 1
//     (Open refuses a last segment that is a symbolic link, naming it,
//     rather than append to the file it points to; readers follow links);
//     LOCK, a regular file (a symbolic link there is refused), is held
//     with flock(LOCK_EX|LOCK_NB) by the one writer.
//   - A segment starts with a 32-byte header: magic "RONAWAL\x00", u32
//     format version 1, u32 header length 32, u64 segment number, u64
//     index of its first frame (indexes are global, 1-based, continuous);
//     little-endian.
//   - Frames follow: u32 payload length (1..1 MiB), u32 CRC-32C
//     (Castagnoli) of the payload, the payload, no padding. The payload's
//     first byte is the frame type (the SDK: 1 record, 2 seal). Frames
//     never span segments: the writer rotates when a frame would take the
//     segment past its size, after fsyncing it; a new segment's header
//     and directory entry are fsynced before it takes frames.
//
// # Recovery and the torn-tail rule
//
// Open scans every segment and checks every frame, and fsyncs the last
// segment (a process crash can leave its frames in the page cache only)
// before Options.Recovered sees them. Only the last segment
// may end in a torn tail, which Open cuts (truncate, fsync) and reports in
// Recovery. With p the end of its last good frame and z the start of the
// run of zero bytes ending the file, the bytes from p are a torn tail iff
// z-p < 8, or the header at p declares a length in 1..MaxPayload whose
// frame reaches z or beyond and no run of intact frames that reaches z, or
// ends where a torn append begins, starts inside it at an offset q where
// the CRC stored at p matches the bytes from p+8 to q (its length alone
// damaged, the frame ends at q: rule 3 of FORMAT.md section 6; intact
// frames in a torn frame's payload are not evidence of damage). Damage
// to both the length and the CRC of a frame whose length then runs past
// the end of the file is cut as a torn tail with the frames after it, as
// damage to the final frame is. Everything else is corruption: Open fails
// with a *CorruptError naming file and offset and changes nothing. A last
// segment whose bytes are a prefix of its header then zeros is an
// interrupted creation; Open writes the header again, and if that write or
// its fsync fails, removes the segment (it holds no frame), as a failed
// creation.
//
// # Writing
//
//	log, rec, err := wal.Open(dir, wal.Options{}) // FsyncBatch: an fsync once 32 frames wait or 2 ms pass
//	idx, err := log.Append(payload)               // buffered; returns the global index
//	err = log.WaitDurable(idx)                    // returns once an fsync covered it
//	idx, err = log.AppendDurable(payload)         // both
//	err = log.Close()
//
// Many goroutines may append and wait at once; they share fsyncs. A failed
// write or fsync poisons the Log: nothing more is acknowledged and every
// call returns the error (ErrPoisoned), but WaitDurable of a frame made
// durable before. Either also cuts the segment back to the last frame
// an fsync covered, so that a reopen does not take in frames reported
// failed to their callers: those a failed write (a full disk) put in the
// file, or the kernel kept in its cache but failed to write.
// Likewise a segment whose creation fails (the header's write or fsync,
// or the fsync of its directory entry) is removed again, so that a reopen
// does not append to, and acknowledge frames from, a file whose directory
// entry may not survive a crash: a rotation's failure poisons the Log,
// Open's fails Open, and the error names the segment and the file or
// directory whose write or fsync failed. Options.OnFsync reports each
// segment fsync's duration and the frames it made durable, for a
// wal_fsync_seconds metric of the fsyncs that made frames durable; a
// panic of that hook reaches the caller that synced with the Log
// consistent (and a Close that panicked is finished by the next Close).
//
// # Reading
//
// ReadDir reads a log without the lock and without changing it (a
// verifier can run beside the writer); ReadSegment and ReadSegmentFile
// read one segment. What it reads may be in the page cache only (the
// writer's frames not yet fsynced, or a killed writer's): SyncDir makes
// it durable, for a reader that signs what it read. Options.Replay hands every frame to the caller during
// Open's own scan, to rebuild state in one pass.
package wal
