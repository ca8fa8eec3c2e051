// Package rules is Bulkhead's runtime rule engine: it loads Falco-format
// rules files (lists, macros, rules, exceptions, append/override), compiles
// their conditions once into closures and evaluates events against them.
//
// The package knows nothing about where events come from. The eBPF sensor
// (and the replay tooling) hand it values that implement Event; tests use
// MapEvent. Conditions are compiled ahead of time so that evaluating an event
// does not allocate unless a rule fires.
//
// Allowed imports: the standard library and gopkg.in/yaml.v3 only. The
// package must not import other Bulkhead packages (it sits at the left of the
// runtime data flow) and must never print: load problems are returned as
// warnings and skip reasons. TestImports pins this.
package rules
