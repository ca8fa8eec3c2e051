// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Bulkhead's runtime sensor. Attach points are tracepoints only (they work
// on every kernel Bulkhead targets; kprobes, fentry and BPF LSM can be added
// where a kernel allows them):
//
//   tp_btf/sys_exit (a BTF raw tracepoint: cheaper than perf tracepoints;
//       the per-syscall syscalls/sys_exit_<name> tracepoints are refused
//       with EPERM on some target kernels and, where they exist, turn on
//       the same slow path for every syscall and add perf's code to it). One program at syscall
//       exit sees the arguments (still in pt_regs on x86_64), the return
//       value and the user memory the arguments point to, so nothing is
//       attached at syscall entry and nothing is parked between the two.
//       The first thing it does is one array lookup in `interest`, the
//       per-rule interest set: a syscall no loaded rule needs returns at
//       once;
//   sched/sched_process_exec, sched_process_exit, tp_btf/sched_process_fork
//       for the process life cycle.
//
// Filtering happens here, before anything reaches user space: the sensor's
// own process is ignored, and file opens are kept only when their path
// starts with one of the configured prefixes (or the filter is off). A
// relative path is made absolute here first, from the directory fd or the
// working directory (a walk up the dentries, across mounts, to the task's
// root), so the filter sees the real directory. An
// event that cannot be reserved in the ring buffer increments a per-CPU
// lost counter that user space exports: nothing is dropped silently.

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "kernel.h"

// Event types beyond syscall numbers.
#define EV_EXEC 1000
#define EV_FORK 1001
#define EV_EXIT 1002

#define STR_LEN 256
#define ARGV_LEN 1024
#define MAX_PREFIXES 16
#define PREFIX_LEN 64

// Event flags.
#define F_EXE_MEMFD (1 << 0)
// str1 holds str0 made absolute in the kernel (relative path calls).
#define F_PATH_RESOLVED (1 << 1)

// Must match rawEvent in event.go.
struct event {
	u64 ts; // CLOCK_BOOTTIME ns
	u64 cgroup_id;
	u64 args[6];
	s64 ret;
	u32 type;
	u32 pid;
	u32 tid;
	u32 ppid;
	u32 uid;
	u32 gid;
	u32 tty;
	u32 flags;
	u16 len0;
	u16 len1;
	u32 argv_len;
	char comm[16];
	char str0[STR_LEN];
	char str1[STR_LEN];
};

#define OFF_STR0 __builtin_offsetof(struct event, str0)
#define OFF_STR1 __builtin_offsetof(struct event, str1)

struct exec_event {
	struct event e;
	char argv[ARGV_LEN];
};

struct prefix {
	u32 len;
	char p[PREFIX_LEN];
};

// Configuration written by user space before attaching.
struct config {
	u32 self_tgid;
	u32 open_filter; // 1: keep opens only under a prefix
	u32 nprefixes;
	u32 keep_relative; // 1: relative paths pass the filter (their directory is unknown here)
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

// lost counts events the ring buffer had no room for, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

// counters[0] counts events produced (kept by the in-kernel filter), per
// CPU, counters[1] the opens dropped by it, so the filter's effect is
// measurable, and counters[2] those of them dropped by a dircache hit.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct config);
} config_map SEC(".maps");

// interest[nr] is INTEREST_EVENT for each syscall some loaded rule needs,
// INTEREST_PATHS for one that only matters because it can change what path
// a directory has (see dircache), 0 otherwise.
#define INTEREST_EVENT 1
#define INTEREST_PATHS 2
#define MAX_SYSCALL 512
#define AT_FDCWD -100
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL);
	__type(key, u32);
	__type(value, u32);
} interest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_PREFIXES);
	__type(key, u32);
	__type(value, struct prefix);
} prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct event);
} scratch SEC(".maps");

// x86_64 syscall numbers of the syscalls whose arguments need decoding.
#define NR_open 2
#define NR_connect 42
#define NR_accept 43
#define NR_bind 49
#define NR_rename 82
#define NR_mkdir 83
#define NR_creat 85
#define NR_rmdir 84
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_pivot_root 155
#define NR_chroot 161
#define NR_mount 165
#define NR_umount2 166
#define NR_unshare 272
#define NR_setns 308
#define NR_open_tree 428
#define NR_move_mount 429
#define NR_fsmount 432
#define NR_mount_setattr 442
#define NR_open_tree_attr 467
#define NR_openat 257
#define NR_mkdirat 258
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_fchmodat 268
#define NR_accept4 288
#define NR_renameat2 316
#define NR_memfd_create 319
#define NR_openat2 437
#define NR_fchmodat2 452

static __always_inline u32 interesting(long nr)
{
	if (nr < 0 || nr >= MAX_SYSCALL)
		return 0;
	u32 key = nr;
	u32 *v = bpf_map_lookup_elem(&interest, &key);
	return v ? *v : 0;
}

// Records are submitted without waking the reader: a cross-CPU wake-up per
// event cost more than producing it, and the reader looks at the ring on
// its own (every few milliseconds while records flow, see Read in
// loader.go), so nothing waits on the ring's epoll.
#define SUBMIT_FLAGS BPF_RB_NO_WAKEUP

static __always_inline struct config *get_config(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&config_map, &zero);
}

static __always_inline void count(u32 idx)
{
	u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		(*c)++;
}

static __always_inline void count_lost(void)
{
	u32 zero = 0;
	u64 *c = bpf_map_lookup_elem(&lost, &zero);
	if (c)
		(*c)++;
}

static __always_inline void clear_lens(struct event *e)
{
	e->flags = 0;
	e->len0 = 0;
	e->len1 = 0;
	e->argv_len = 0;
}

// fill_task sets the fields describing the current task; it leaves the
// string lengths and flags alone (see clear_lens). The task pointer is a
// BTF pointer: fields are plain loads, not helper calls.
static __always_inline void fill_task(struct event *e)
{
	u64 id = bpf_get_current_pid_tgid();
	u64 ug = bpf_get_current_uid_gid();
	struct task_struct *task = bpf_get_current_task_btf();

	e->ts = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = id >> 32;
	e->tid = (u32)id;
	e->uid = (u32)ug;
	e->gid = ug >> 32;
	e->ppid = task->real_parent->tgid;
	struct tty_struct *tty = task->signal->tty;
	e->tty = 0;
	if (tty) {
		int major = tty->driver->major;
		int minor = tty->driver->minor_start + tty->index;
		// Encoded like tty_nr in /proc/PID/stat, as Falco reports it.
		e->tty = ((u32)major << 8) | ((u32)minor & 0xff) | (((u32)minor & ~0xffu) << 12);
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline int read_str0(struct event *e, u64 ptr)
{
	long n = bpf_probe_read_user_str(e->str0, sizeof(e->str0), (const void *)ptr);
	e->len0 = n > 0 ? n : 0;
	return n;
}

static __always_inline int read_str1(struct event *e, u64 ptr)
{
	long n = bpf_probe_read_user_str(e->str1, sizeof(e->str1), (const void *)ptr);
	e->len1 = n > 0 ? n : 0;
	return n;
}

// read_sockaddr copies up to 128 bytes of a user sockaddr into str1.
static __always_inline void read_sockaddr(struct event *e, u64 ptr, u64 len)
{
	if (len > 128)
		len = 128;
	if (len == 0 || ptr == 0)
		return;
	if (bpf_probe_read_user(e->str1, len & 0xff, (const void *)ptr) == 0)
		e->len1 = len;
}

#include "paths.h"

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	// regs is a trusted BTF pointer: a plain load, no helper call, on the
	// path every syscall of the machine takes.
	long nr = regs->orig_ax;
	u32 want = interesting(nr);
	if (!want)
		return 0;
	if (changes_paths(nr))
		bump_dircache_gen();
	if (want != INTEREST_EVENT)
		return 0;
	struct config *cfg = get_config();
	if (!cfg)
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == cfg->self_tgid)
		return 0;

	u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	clear_lens(e);
	e->type = nr;
	e->ret = ret;
	// The arguments are still in pt_regs at exit on x86_64; user memory
	// they point to is read now, as Falco reads most arguments at exit.
	e->args[0] = regs->di;
	e->args[1] = regs->si;
	e->args[2] = regs->dx;
	e->args[3] = regs->r10;
	e->args[4] = regs->r8;
	e->args[5] = regs->r9;
	u64 *a = e->args;

	switch (nr) {
	case NR_open:
	case NR_creat:
		read_str0(e, a[0]);
		if (!open_wanted(cfg, e, AT_FDCWD))
			goto filtered;
		break;
	case NR_openat:
		read_str0(e, a[1]);
		if (!open_wanted(cfg, e, (s32)a[0]))
			goto filtered;
		break;
	case NR_openat2: {
		read_str0(e, a[1]);
		u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (const void *)a[2]);
		e->args[2] = flags; // struct open_how.flags, so user space sees openat's layout
		if (!open_wanted(cfg, e, (s32)a[0]))
			goto filtered;
		break;
	}
	case NR_unlink:
	case NR_rmdir:
	case NR_mkdir:
	case NR_chmod:
		read_str0(e, a[0]);
		if (e->len0 > 1 && e->str0[0] != '/')
			resolve_path(e, AT_FDCWD, 0);
		break;
	case NR_umount2:
	case NR_memfd_create:
		read_str0(e, a[0]);
		break;
	case NR_unlinkat:
	case NR_mkdirat:
	case NR_fchmodat:
	case NR_fchmodat2:
		read_str0(e, a[1]);
		if (e->len0 > 1 && e->str0[0] != '/')
			resolve_path(e, (s32)a[0], 0);
		break;
	case NR_rename:
	case NR_link:
	case NR_symlink:
	case NR_mount:
		read_str0(e, a[0]);
		read_str1(e, a[1]);
		break;
	case NR_renameat:
	case NR_renameat2:
	case NR_linkat:
		read_str0(e, a[1]);
		read_str1(e, a[3]);
		break;
	case NR_symlinkat:
		read_str0(e, a[0]);
		read_str1(e, a[2]);
		break;
	case NR_connect:
	case NR_bind:
		read_sockaddr(e, a[1], a[2]);
		break;
	case NR_accept:
	case NR_accept4:
		if (ret >= 0 && a[1] && a[2]) {
			u32 alen = 0;
			bpf_probe_read_user(&alen, sizeof(alen), (const void *)a[2]);
			read_sockaddr(e, a[1], alen);
		}
		break;
	}

	fill_task(e);
	count(0);
	// Only the used part of the record is copied: the header and str0, or
	// through str1 when it is set.
	u32 size = e->len1 ? OFF_STR1 + (e->len1 & (2 * STR_LEN - 1)) : OFF_STR0 + (e->len0 & (2 * STR_LEN - 1));
	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, SUBMIT_FLAGS))
		count_lost();
	return 0;

filtered:
	count(1);
	return 0;
}

struct sched_exec_ctx {
	u64 common;
	u32 filename_loc;
	s32 pid;
	s32 old_pid;
};

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(struct sched_exec_ctx *ctx)
{
	struct config *cfg = get_config();
	if (!cfg)
		return 0;
	u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == cfg->self_tgid)
		return 0;
	struct exec_event *x = bpf_ringbuf_reserve(&events, sizeof(*x), 0);
	if (!x) {
		count_lost();
		return 0;
	}
	struct event *e = &x->e;
	clear_lens(e);
	fill_task(e);
	e->type = EV_EXEC;
	e->ret = 0;
	e->args[0] = 0;
	u32 off = ctx->filename_loc & 0xffff;
	long n = bpf_probe_read_kernel_str(e->str0, sizeof(e->str0), (void *)ctx + off);
	e->len0 = n > 0 ? n : 0;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const unsigned char *dname = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	n = bpf_probe_read_kernel_str(e->str1, sizeof(e->str1), dname);
	e->len1 = n > 0 ? n : 0;
	if (n > 6 && e->str1[0] == 'm' && e->str1[1] == 'e' && e->str1[2] == 'm' && e->str1[3] == 'f' &&
	    e->str1[4] == 'd' && e->str1[5] == ':')
		e->flags |= F_EXE_MEMFD;

	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	u64 len = end - start;
	if (len > ARGV_LEN)
		len = ARGV_LEN;
	if (bpf_probe_read_user(x->argv, len & (ARGV_LEN - 1 | ARGV_LEN), (const void *)start) == 0)
		e->argv_len = len;
	count(0);
	bpf_ringbuf_submit(x, SUBMIT_FLAGS);
	return 0;
}

struct sched_exit_ctx {
	u64 common;
	char comm[16];
	s32 pid;
	s32 prio;
	u8 group_dead;
};

SEC("tracepoint/sched/sched_process_exit")
int sched_exit(struct sched_exit_ctx *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	if ((u32)id != (id >> 32))
		return 0; // a thread, not the process
	struct config *cfg = get_config();
	if (!cfg || (id >> 32) == cfg->self_tgid)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	clear_lens(e);
	fill_task(e);
	e->type = EV_EXIT;
	e->ret = 0;
	count(0);
	bpf_ringbuf_submit(e, SUBMIT_FLAGS);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	if (child->nsproxy && parent->nsproxy && child->nsproxy->mnt_ns != parent->nsproxy->mnt_ns)
		bump_dircache_gen(); // clone(CLONE_NEWNS): copies of every mount
	int pid = BPF_CORE_READ(child, pid);
	int tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid)
		return 0; // a new thread
	struct config *cfg = get_config();
	if (!cfg || (bpf_get_current_pid_tgid() >> 32) == cfg->self_tgid)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	clear_lens(e);
	fill_task(e);
	e->type = EV_FORK;
	e->ret = tgid; // the child, as clone's return value in the parent
	count(0);
	bpf_ringbuf_submit(e, SUBMIT_FLAGS);
	return 0;
}
