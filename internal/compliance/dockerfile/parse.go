package dockerfile

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Instruction is one Dockerfile instruction.
type Instruction struct {
	// Cmd is the upper-case instruction name: RUN, FROM, ...
	Cmd  string
	Args []string
	// Flags are the --flag=value options (RUN --mount=..., COPY --from=...).
	Flags []string
	// Original is the instruction's text as written (continuations joined).
	Original string
	// JSON is true for the exec form, ["a", "b"].
	JSON     bool
	Line     int
	EndLine  int
	Heredocs []string
	Path     string
	StageIdx int
	// Keys are the variable names an ENV, ARG or LABEL sets.
	Keys []string
}

// Command is a RUN instruction's command text, heredoc bodies included.
func (in *Instruction) Command() string {
	s := strings.Join(in.Args, " ")
	for _, h := range in.Heredocs {
		s += "\n" + h
	}
	return s
}

// Stage is one FROM and the instructions under it.
type Stage struct {
	Index int
	Name  string
	// Image is FROM's argument; FromStage says it names an earlier stage.
	Image        string
	FromStage    bool
	Platform     string
	Line         int
	Path         string
	Instructions []Instruction

	// User is the effective USER at the end of the stage, inherited from
	// the parent stage when the stage sets none; "" when none is set.
	// UserPath is where it was set.
	User     string
	UserPath string
	// Healthcheck is true when the stage has or inherits a HEALTHCHECK
	// other than NONE.
	Healthcheck bool
}

// File is a parsed Dockerfile.
type File struct {
	// GlobalArgs are the ARGs before the first FROM.
	GlobalArgs []Instruction
	Stages     []Stage
	// Lines maps field paths ("stages[1].instructions[2]") to lines.
	Lines map[string]int
}

// Parse reads a Dockerfile.
func Parse(data []byte) (f *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("dockerfile: %v", r)
		}
	}()
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	f = &File{Lines: map[string]int{"": 1}}
	names := map[string]int{}
	for _, n := range res.AST.Children {
		in := Instruction{
			Cmd:      strings.ToUpper(n.Value),
			Flags:    n.Flags,
			Original: n.Original,
			JSON:     n.Attributes["json"],
			Line:     n.StartLine,
			EndLine:  n.EndLine,
		}
		for a := n.Next; a != nil; a = a.Next {
			in.Args = append(in.Args, a.Value)
		}
		for _, h := range n.Heredocs {
			in.Heredocs = append(in.Heredocs, h.Content)
		}
		switch in.Cmd {
		case "ENV", "LABEL":
			// key, value, separator triples
			for i := 0; i < len(in.Args); i += 3 {
				in.Keys = append(in.Keys, in.Args[i])
			}
		case "ARG":
			for _, a := range in.Args {
				k, _, _ := strings.Cut(a, "=")
				in.Keys = append(in.Keys, k)
			}
		}
		if in.Cmd == "FROM" {
			st := Stage{Index: len(f.Stages), Line: in.Line, Path: "stages[" + strconv.Itoa(len(f.Stages)) + "]"}
			if len(in.Args) > 0 {
				st.Image = in.Args[0]
			}
			if len(in.Args) >= 3 && strings.EqualFold(in.Args[1], "AS") {
				st.Name = strings.ToLower(in.Args[2])
			}
			for _, fl := range in.Flags {
				if v, ok := strings.CutPrefix(fl, "--platform="); ok {
					st.Platform = v
				}
			}
			if p, ok := names[strings.ToLower(st.Image)]; ok {
				st.FromStage = true
				parent := f.Stages[p]
				st.User, st.UserPath, st.Healthcheck = parent.User, parent.UserPath, parent.Healthcheck
			}
			if st.Name != "" {
				names[st.Name] = st.Index
			}
			f.Lines[st.Path] = st.Line
			in.StageIdx = st.Index
			f.Stages = append(f.Stages, st)
			continue
		}
		if len(f.Stages) == 0 {
			in.StageIdx = -1
			in.Path = "globalArgs[" + strconv.Itoa(len(f.GlobalArgs)) + "]"
			f.Lines[in.Path] = in.Line
			f.GlobalArgs = append(f.GlobalArgs, in)
			continue
		}
		st := &f.Stages[len(f.Stages)-1]
		in.StageIdx = st.Index
		in.Path = st.Path + ".instructions[" + strconv.Itoa(len(st.Instructions)) + "]"
		f.Lines[in.Path] = in.Line
		switch in.Cmd {
		case "USER":
			if len(in.Args) > 0 {
				st.User, st.UserPath = in.Args[0], in.Path
			}
		case "HEALTHCHECK":
			st.Healthcheck = len(in.Args) > 0 && !strings.EqualFold(in.Args[0], "NONE")
		}
		st.Instructions = append(st.Instructions, in)
	}
	return f, nil
}
