package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind says which member of a Value is set.
type Kind uint8

// Value kinds. KindNone is the zero Value and never returned with ok=true.
const (
	KindNone Kind = iota
	KindString
	KindInt
	KindBool
	KindList
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	case KindList:
		return "list"
	}
	return "none"
}

// Value is a small tagged union holding one extracted field value. It is
// passed by value; building one never allocates beyond what the caller
// already holds.
type Value struct {
	kind Kind
	s    string
	i    int64
	l    []string
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{kind: KindString, s: s} }

// IntValue returns an integer Value.
func IntValue(i int64) Value { return Value{kind: KindInt, i: i} }

// BoolValue returns a boolean Value.
func BoolValue(b bool) Value {
	if b {
		return Value{kind: KindBool, i: 1}
	}
	return Value{kind: KindBool}
}

// ListValue returns a list Value (for example fd.types or proc.aname
// without an index).
func ListValue(l []string) Value { return Value{kind: KindList, l: l} }

// Kind reports which member is set.
func (v Value) Kind() Kind { return v.kind }

// Str returns the string member.
func (v Value) Str() string { return v.s }

// Int returns the integer member.
func (v Value) Int() int64 { return v.i }

// Bool returns the boolean member.
func (v Value) Bool() bool { return v.i != 0 }

// List returns the list member.
func (v Value) List() []string { return v.l }

// String renders the value the way Falco prints it in outputs.
func (v Value) String() string {
	switch v.kind {
	case KindString:
		return v.s
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindBool:
		if v.i != 0 {
			return "true"
		}
		return "false"
	case KindList:
		return "(" + strings.Join(v.l, ",") + ")"
	}
	return naValue
}

// naValue is what Falco prints for a field the event does not carry.
const naValue = "<NA>"

// Event is one observed system event. Field returns the value of a field
// such as "proc.name"; arg carries the index of indexed fields
// ("proc.aname[2]" is Field("proc.aname", "2")) and is empty otherwise.
// ok is false when the event does not carry the field; every comparison
// against a missing field is false (only "not" can turn it true), as in
// Falco.
type Event interface {
	Field(name, arg string) (Value, bool)
}

// MapEvent is an Event backed by maps, for tests and replay of recorded
// events. Build it with NewMapEvent or by unmarshalling JSON; keys are
// field names, optionally with an argument ("proc.aname[2]").
type MapEvent struct {
	plain   map[string]Value
	indexed map[string]map[string]Value
}

// Field implements Event.
func (m *MapEvent) Field(name, arg string) (Value, bool) {
	if arg == "" {
		v, ok := m.plain[name]
		return v, ok
	}
	v, ok := m.indexed[name][arg]
	return v, ok
}

// Set stores one field; key may carry an argument ("proc.aname[2]").
// Values may be string, bool, any integer or float type, []string or
// []any of strings (JSON arrays).
func (m *MapEvent) Set(key string, val any) error {
	v, err := toValue(val)
	if err != nil {
		return fmt.Errorf("field %s: %w", key, err)
	}
	name, arg := splitFieldKey(key)
	if arg == "" {
		if m.plain == nil {
			m.plain = map[string]Value{}
		}
		m.plain[name] = v
		return nil
	}
	if m.indexed == nil {
		m.indexed = map[string]map[string]Value{}
	}
	if m.indexed[name] == nil {
		m.indexed[name] = map[string]Value{}
	}
	m.indexed[name][arg] = v
	return nil
}

// NewMapEvent builds a MapEvent from a field map. Values are coerced to
// the registry's type for known fields (a JSON number for a string field
// becomes its decimal text, a list for a string field such as proc.args
// is joined with spaces), and a few fields Falco derives are filled in when
// absent: proc.aname[0] and [1] from proc.name and proc.pname,
// fd.directory and fd.filename from fd.name.
func NewMapEvent(fields map[string]any) (*MapEvent, error) {
	m := &MapEvent{}
	for k, val := range fields {
		if err := m.Set(k, val); err != nil {
			return nil, err
		}
	}
	m.normalize()
	return m, nil
}

// UnmarshalJSON loads a flat JSON object of field values.
func (m *MapEvent) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	n, err := NewMapEvent(raw)
	if err != nil {
		return err
	}
	*m = *n
	return nil
}

func (m *MapEvent) normalize() {
	for name, v := range m.plain {
		if f, ok := lookupField(name); ok {
			m.plain[name] = coerce(v, f.Type)
		}
	}
	for name, args := range m.indexed {
		if f, ok := lookupField(name); ok {
			for a, v := range args {
				args[a] = coerce(v, f.Type)
			}
		}
	}
	derive := func(name, arg, from string) {
		if _, ok := m.Field(name, arg); ok {
			return
		}
		if v, ok := m.plain[from]; ok {
			_ = m.Set(name+"["+arg+"]", v.s)
		}
	}
	derive("proc.aname", "0", "proc.name")
	derive("proc.aname", "1", "proc.pname")
	derive("proc.aexepath", "0", "proc.exepath")
	derive("proc.aexepath", "1", "proc.pexepath")
	// Without an index, ancestor fields hold every ancestor from the
	// parent up, so "proc.aname in (...)" can match any of them.
	for _, name := range []string{"proc.aname", "proc.aexe", "proc.aexepath"} {
		if _, ok := m.plain[name]; ok {
			continue
		}
		var l []string
		for i := 1; i <= len(m.indexed[name]); i++ {
			if v, ok := m.indexed[name][strconv.Itoa(i)]; ok {
				l = append(l, v.String())
			}
		}
		if l != nil {
			m.plain[name] = ListValue(l)
		}
	}
	if v, ok := m.plain["fd.name"]; ok && strings.HasPrefix(v.s, "/") {
		dir, file := v.s[:strings.LastIndexByte(v.s, '/')], v.s[strings.LastIndexByte(v.s, '/')+1:]
		if dir == "" {
			dir = "/"
		}
		if _, ok := m.plain["fd.directory"]; !ok {
			m.plain["fd.directory"] = StringValue(dir)
		}
		if _, ok := m.plain["fd.filename"]; !ok {
			m.plain["fd.filename"] = StringValue(file)
		}
	}
}

// coerce converts v to the field's declared type where that is lossless.
func coerce(v Value, t FieldType) Value {
	switch t {
	case TypeString, TypeIP, TypeIPNet:
		switch v.kind {
		case KindInt, KindBool:
			return StringValue(v.String())
		case KindList:
			return StringValue(strings.Join(v.l, " "))
		}
	case TypeInt:
		if v.kind == KindString {
			if i, err := strconv.ParseInt(v.s, 10, 64); err == nil {
				return IntValue(i)
			}
		}
	case TypeBool:
		if v.kind == KindString {
			if b, err := strconv.ParseBool(v.s); err == nil {
				return BoolValue(b)
			}
		}
	case TypeList:
		if v.kind == KindString {
			return ListValue([]string{v.s})
		}
	}
	return v
}

func toValue(val any) (Value, error) {
	switch x := val.(type) {
	case Value:
		return x, nil
	case string:
		return StringValue(x), nil
	case bool:
		return BoolValue(x), nil
	case int:
		return IntValue(int64(x)), nil
	case int64:
		return IntValue(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return Value{}, fmt.Errorf("integer %d overflows int64", x)
		}
		return IntValue(int64(x)), nil
	case float64:
		if x != math.Trunc(x) {
			return Value{}, fmt.Errorf("non-integer number %v", x)
		}
		return IntValue(int64(x)), nil
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return Value{}, fmt.Errorf("number %s: %w", x, err)
		}
		return IntValue(i), nil
	case []string:
		return ListValue(x), nil
	case []any:
		l := make([]string, len(x))
		for i, e := range x {
			ev, err := toValue(e)
			if err != nil || ev.kind == KindList {
				return Value{}, fmt.Errorf("list element %d: unsupported %T", i, e)
			}
			l[i] = ev.String()
		}
		return ListValue(l), nil
	}
	return Value{}, fmt.Errorf("unsupported value type %T", val)
}

// splitFieldKey splits "proc.aname[2]" into "proc.aname" and "2".
func splitFieldKey(key string) (name, arg string) {
	if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
		return key[:i], key[i+1 : len(key)-1]
	}
	return key, ""
}
