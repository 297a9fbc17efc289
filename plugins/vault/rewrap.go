package vault

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/mana/mana-auth/core/db"
)

// DefaultRewrapBatch is how many users one rewrap transaction scans.
const DefaultRewrapBatch = 500

// RewrapOptions tune Rewrap.
type RewrapOptions struct {
	// BatchSize is how many users one transaction scans (DefaultRewrapBatch
	// when 0).
	BatchSize int
	// MaxBatches stops after that many batches; 0 runs to the end.
	MaxBatches int
	// After resumes the scan after this user id; "" starts at the beginning.
	After string
	// Progress, when set, is called after each committed batch with the
	// totals so far.
	Progress func(RewrapResult)
}

// RewrapResult counts what Rewrap did.
type RewrapResult struct {
	Batches   int    // committed batches
	Scanned   int    // users looked at
	Vaults    int    // vaults among them
	Rewrapped int    // vaults moved to the current KEK
	Failed    int    // wraps that did not open (unknown KEK, tampered row)
	Cursor    string // last user id of the last committed batch
	Done      bool   // the scan reached the last user
}

// Rewrap moves every vault that is wrapped under a previous KEK (or an
// older format) to the current KEK. It scans users in id order, BatchSize
// at a time, each batch in its own transaction, so an interruption (a
// cancelled ctx, a crash, MaxBatches) loses nothing: every row is either
// still under its old KEK or already under the new one, never half, and
// running Rewrap again (from the start, or After the last Cursor) finishes
// the job. Rows it cannot open are counted in Failed and left as they are.
//
// Row-level security hides every vault row but the bound user's, so the
// scan walks the users table and binds each user in turn (see bindUser).
// That costs a lookup per user without a vault; it is a maintenance
// command, not a request path.
func (p *Plugin) Rewrap(ctx context.Context, o RewrapOptions) (RewrapResult, error) {
	size := o.BatchSize
	if size <= 0 {
		size = DefaultRewrapBatch
	}
	res := RewrapResult{Cursor: o.After}
	for o.MaxBatches == 0 || res.Batches < o.MaxBatches {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var b RewrapResult
		var ids []string
		err := p.e.DB.Tx(ctx, func(tx db.Tx) error {
			b = RewrapResult{} // the transaction may be retried
			var err error
			if ids, err = userIDsAfter(ctx, tx, res.Cursor, size); err != nil {
				return err
			}
			for _, id := range ids {
				if err := p.rewrapUser(ctx, tx, id, &b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("rewrapping users after %q: %w", res.Cursor, err)
		}
		if len(ids) == 0 {
			res.Done = true
			break
		}
		res.Batches++
		res.Scanned += len(ids)
		res.Vaults += b.Vaults
		res.Rewrapped += b.Rewrapped
		res.Failed += b.Failed
		res.Cursor = ids[len(ids)-1]
		if o.Progress != nil {
			o.Progress(res)
		}
		if len(ids) < size {
			res.Done = true
			break
		}
	}
	return res, nil
}

// userIDsAfter lists up to n user ids greater than after, in order.
func userIDsAfter(ctx context.Context, q db.Querier, after string,
	n int) ([]string, error) {
	rows, err := q.Query(ctx, "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2",
		after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make([]string, 0, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// rewrapUser rewraps one user's vault inside the batch transaction, bound
// to that user.
func (p *Plugin) rewrapUser(ctx context.Context, tx db.Tx, userID string,
	b *RewrapResult) error {
	if err := bindUser(ctx, tx, userID); err != nil {
		return err
	}
	v, err := loadRecord(ctx, tx, userID)
	if errors.Is(err, db.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	b.Vaults++
	if !v.hasKEKWrap() ||
		(*v.KEKID == p.keys.current.id && v.FormatVersion == FormatVersion) {
		return nil
	}
	mk, _, err := p.keys.unwrapKey(userID, v.FormatVersion, *v.KEKID, v.WrappedMK,
		v.WrapIV)
	if err != nil {
		b.Failed++
		p.log.WarnContext(ctx, "vault rewrap: wrap does not open", slog.String("user_id",
			userID), slog.String("kek_id", *v.KEKID), slog.String("err", err.Error()))
		return nil
	}
	w, err := p.keys.wrapKey(userID, mk)
	clear(mk)
	if err != nil {
		return err
	}
	n, err := rewrapRecord(ctx, tx, userID, *v.KEKID, w, p.e.Now())
	if err != nil {
		return err
	}
	b.Rewrapped += int(n)
	return nil
}

// RunCommand runs `mana-auth vault <args>` against p, writing progress to
// out. The one subcommand is
//
//	rewrap [-batch N] [-max-batches M] [-after USER_ID] [N]
//
// It fails when a wrap could not be opened, so an operator does not drop a
// previous KEK that is still needed.
func RunCommand(ctx context.Context, p *Plugin, args []string, out io.Writer) error {
	const usage = "usage: mana-auth vault rewrap [-batch N] [-max-batches M] " +
		"[-after USER_ID] [N]"
	if len(args) == 0 || args[0] != "rewrap" {
		return errors.New(usage)
	}
	fl := flag.NewFlagSet("vault rewrap", flag.ContinueOnError)
	fl.SetOutput(out)
	batch := fl.Int("batch", DefaultRewrapBatch, "users per transaction")
	maxBatches := fl.Int("max-batches", 0, "stop after this many batches (0: all)")
	after := fl.String("after", "", "resume after this user id")
	if err := fl.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w (%s)", err, usage)
	}
	switch fl.NArg() {
	case 0:
	case 1:
		n, err := strconv.Atoi(fl.Arg(0))
		if err != nil || n <= 0 {
			return errors.New(usage)
		}
		*batch = n
	default:
		return errors.New(usage)
	}
	if *batch <= 0 || *maxBatches < 0 {
		return errors.New(usage)
	}

	fmt.Fprintf(out, "rewrapping vaults under KEK %s, %d users per batch\n",
		p.CurrentKEKID(), *batch)
	res, err := p.Rewrap(ctx, RewrapOptions{BatchSize: *batch, MaxBatches: *maxBatches,
		After: *after, Progress: func(r RewrapResult) {
			fmt.Fprintf(out, "batch %d: %d users, %d vaults, %d rewrapped, %d failed "+
				"(cursor %s)\n", r.Batches, r.Scanned, r.Vaults, r.Rewrapped, r.Failed,
				r.Cursor)
		}})
	if err != nil {
		fmt.Fprintf(out, "interrupted; resume with -after %q\n", res.Cursor)
		return err
	}
	state := "done"
	if !res.Done {
		state = fmt.Sprintf("stopped; resume with -after %q", res.Cursor)
	}
	fmt.Fprintf(out, "%s: %d users, %d vaults, %d rewrapped, %d failed\n", state,
		res.Scanned, res.Vaults, res.Rewrapped, res.Failed)
	if res.Failed > 0 {
		return fmt.Errorf("vault rewrap: %d wraps did not open; keep the previous KEKs "+
			"until they are resolved", res.Failed)
	}
	return nil
}
