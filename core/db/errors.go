package db

// kindError tags a driver error with one of the package sentinels while
// keeping the driver error in the chain, so both errors.Is(err, ErrConflict)
// and errors.As(err, &pgErr) work.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return e.kind.Error() + ": " + e.err.Error() }

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// tag wraps err with kind unless it already carries it.
func tag(kind, err error) error {
	if k, ok := err.(*kindError); ok && k.kind == kind {
		return err
	}
	return &kindError{kind: kind, err: err}
}
