package advisory

// Limits bound what an importer will read, so that a hostile or broken feed
// cannot exhaust memory.
type Limits struct {
	// MaxRecordBytes bounds one OSV record (file or zip entry).
	MaxRecordBytes int64
	// MaxFileBytes bounds a whole-file feed that is decoded at once
	// (Alpine secdb, KEV, one parsed Debian file). Streamed feeds (Debian
	// tracker JSON, EPSS CSV, OSV zips) are not bound by it.
	MaxFileBytes int64
	// MaxZipEntries bounds the number of entries in an OSV zip.
	MaxZipEntries int
	// MaxZipRatio bounds an entry's declared uncompressed/compressed ratio.
	MaxZipRatio uint64
	// MaxZipBytes bounds the sum of declared uncompressed sizes in a zip.
	MaxZipBytes uint64
}

// DefaultLimits are generous for every real feed: the largest osv.dev
// record is a few hundred KiB; all.zip for PyPI holds ~20k entries.
func DefaultLimits() Limits {
	return Limits{
		MaxRecordBytes: 8 << 20,
		MaxFileBytes:   256 << 20,
		MaxZipEntries:  1_000_000,
		MaxZipRatio:    200,
		MaxZipBytes:    16 << 30,
	}
}

type options struct {
	limits Limits
}

// Option configures an importer.
type Option func(*options)

// WithLimits replaces DefaultLimits; zero fields keep their default.
func WithLimits(l Limits) Option {
	return func(o *options) {
		d := DefaultLimits()
		if l.MaxRecordBytes > 0 {
			d.MaxRecordBytes = l.MaxRecordBytes
		}
		if l.MaxFileBytes > 0 {
			d.MaxFileBytes = l.MaxFileBytes
		}
		if l.MaxZipEntries > 0 {
			d.MaxZipEntries = l.MaxZipEntries
		}
		if l.MaxZipRatio > 0 {
			d.MaxZipRatio = l.MaxZipRatio
		}
		if l.MaxZipBytes > 0 {
			d.MaxZipBytes = l.MaxZipBytes
		}
		o.limits = d
	}
}

func buildOptions(opts []Option) options {
	o := options{limits: DefaultLimits()}
	for _, f := range opts {
		f(&o)
	}
	return o
}
