package docker

import (
	"context"
	"sync"

	"github.com/bulkhead-sec/bulkhead/internal/compliance"
)

// BuiltinChecks returns the embedded CIS Docker checks.
func BuiltinChecks() ([]compliance.Check, error) {
	return compliance.LoadFS(Checks, "checks")
}

var builtin = sync.OnceValues(func() (*compliance.Engine, error) {
	cs, err := BuiltinChecks()
	if err != nil {
		return nil, err
	}
	return compliance.Compile(cs)
})

// NewEngine returns the engine for the built-in checks plus opts (user
// check directories, config).
func NewEngine(opts ...compliance.Option) (*compliance.Engine, error) {
	b, err := builtin()
	if err != nil {
		return nil, err
	}
	return compliance.NewEngine(append([]compliance.Option{compliance.WithBaseEngine(b)}, opts...)...)
}

// Evaluate runs the checks on collected facts.
func Evaluate(f *Facts, e *compliance.Engine) ([]compliance.Result, error) {
	rs, err := Resources(f)
	if err != nil {
		return nil, err
	}
	return e.EvaluateAll(rs), nil
}

// Check collects the facts of the daemon and host o names and evaluates
// the checks.
func Check(ctx context.Context, o Options, opts ...compliance.Option) ([]compliance.Result, error) {
	e, err := NewEngine(opts...)
	if err != nil {
		return nil, err
	}
	f, err := Collect(ctx, o)
	if err != nil {
		return nil, err
	}
	return Evaluate(f, e)
}
