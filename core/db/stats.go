package db

// PoolStats is a snapshot of a connection pool, for the pool gauges.
type PoolStats struct {
	Open  int // connections open (busy + idle)
	InUse int // connections running a statement
	Idle  int
	Max   int // the pool's limit
}

// Stats reports the pool state of a DB opened by Open (zero otherwise).
// For SQLite it adds the writer and reader pools.
func Stats(d DB) PoolStats {
	switch d := d.(type) {
	case *pgDB:
		s := d.pool.Stat()
		return PoolStats{Open: int(s.TotalConns()), InUse: int(s.AcquiredConns()),
			Idle: int(s.IdleConns()), Max: int(s.MaxConns())}
	case *sqliteDB:
		w := d.writer.Stats()
		ps := PoolStats{Open: w.OpenConnections, InUse: w.InUse, Idle: w.Idle,
			Max: w.MaxOpenConnections}
		if d.reader != d.writer {
			r := d.reader.Stats()
			ps.Open += r.OpenConnections
			ps.InUse += r.InUse
			ps.Idle += r.Idle
			ps.Max += r.MaxOpenConnections
		}
		return ps
	}
	return PoolStats{}
}
