// Command attacker performs the attack steps of the sensor scenarios that
// busybox cannot: ptrace attach and fileless (memfd) execution. It is built
// statically by the e2e tests and copied into a FROM-scratch image.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: attacker ptrace|memfd|hello")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ptrace":
		err = ptraceAttach()
	case "memfd":
		err = memfdExec()
	case "hello":
		fmt.Println("hello from a new program")
	default:
		err = fmt.Errorf("unknown step %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		os.Exit(1)
	}
}

// ptraceAttach starts a victim and attaches to it with PTRACE_ATTACH.
func ptraceAttach() error {
	victim := exec.Command("/bin/sleep", "30")
	if err := victim.Start(); err != nil {
		return err
	}
	defer victim.Process.Kill()
	pid := victim.Process.Pid
	if err := unix.PtraceAttach(pid); err != nil {
		return fmt.Errorf("PTRACE_ATTACH %d: %w", pid, err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	fmt.Println("attached to " + strconv.Itoa(pid))
	return unix.PtraceDetach(pid)
}

// memfdExec copies busybox into an anonymous memory file and executes it.
func memfdExec() error {
	payload, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	fd, err := unix.MemfdCreate("payload", 0)
	if err != nil {
		return err
	}
	if _, err := unix.Write(fd, payload); err != nil {
		return err
	}
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	return unix.Exec(p, []string{"echo", "memfd-ran"}, os.Environ())
}
