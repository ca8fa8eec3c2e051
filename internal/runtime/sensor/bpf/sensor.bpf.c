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

// Minimal kernel type definitions: CO-RE relocates every field access
// against the running kernel's BTF, so only the fields used are declared.
struct qstr {
	union {
		struct {
			u32 hash;
			u32 len;
		};
		u64 hash_len;
	};
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct inode;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
} __attribute__((preserve_access_index));

// struct mount embeds the vfsmount a path points to (container_of).
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path root;
	struct path pwd;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct tty_driver {
	int major;
	int minor_start;
} __attribute__((preserve_access_index));

struct tty_struct {
	struct tty_driver *driver;
	int index;
} __attribute__((preserve_access_index));

struct signal_struct {
	struct tty_struct *tty;
} __attribute__((preserve_access_index));

struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long r10;
	unsigned long r8;
	unsigned long r9;
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct mnt_namespace;

struct nsproxy {
	struct mnt_namespace *mnt_ns;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct nsproxy *nsproxy;
	struct mm_struct *mm;
	struct signal_struct *signal;
	struct fs_struct *fs;
	struct files_struct *files;
} __attribute__((preserve_access_index));

// bpf_rdonly_cast turns an address read from kernel memory into a typed,
// read-only pointer, so the walk below reads fields with plain loads
// instead of a helper call per field.
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

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

// Building an absolute path: a first loop walks from the directory up to
// the task's root and records each component's name; a second loop writes
// them root first into a per-CPU buffer (STR_LEN bytes of room, plus
// STR_LEN so a masked offset and a bounded length always stay inside).
// Two simple loops keep the verifier's work small.
#define PATH_DEPTH 32
struct pathbuf {
	u64 name[PATH_DEPTH];
	u32 len[PATH_DEPTH];
	char b[2 * STR_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

// dircache remembers directories under which no open can pass the prefix
// filter, so a relative open there (tar extracting into a directory fd:
// openat(dirfd, "d0/f1")) is dropped without walking the directory's path
// again. The key is the directory and the task's root as the walk saw them
// (dentry and mount of each). An entry is believed only when
//   - its generation is the current one: every syscall that can give a
//     directory another path or a task another view of the tree (rename*,
//     mount and the new mount API, umount2, pivot_root, chroot, unshare,
//     setns, and a fork into a new mount namespace) bumps dircache_gen, and
//   - the dentry still has the parent, name (hash and length) and inode it
//     had, so a dentry freed and its memory reused for another directory
//     is not mistaken for the cached one.
// Only "drop" verdicts are cached: a directory some prefix could match is
// walked every time, and the event carries its path.
struct dir_key {
	u64 dentry;
	u64 mnt;
	u64 root_dentry;
	u64 root_mnt;
};

struct dir_val {
	u64 gen;
	u64 parent;
	u64 hash_len;
	u64 inode;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dir_key);
	__type(value, struct dir_val);
} dircache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} dircache_gen SEC(".maps");

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

// bump_dircache_gen forgets every dircache entry at once.
static __always_inline void bump_dircache_gen(void)
{
	u32 zero = 0;
	u64 *g = bpf_map_lookup_elem(&dircache_gen, &zero);
	if (g)
		__sync_fetch_and_add(g, 1);
}

// changes_paths reports whether syscall nr can change the path of an
// existing directory or the tree a task sees.
static __always_inline int changes_paths(long nr)
{
	switch (nr) {
	case NR_rename:
	case NR_renameat:
	case NR_renameat2:
	case NR_mount:
	case NR_umount2:
	case NR_pivot_root:
	case NR_chroot:
	case NR_unshare:
	case NR_setns:
	case NR_open_tree:
	case NR_move_mount:
	case NR_fsmount:
	case NR_mount_setattr:
	case NR_open_tree_attr:
		return 1;
	}
	return 0;
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

// has_prefix reports whether str0 (which 0) or str1 (which 1) starts with
// one of the configured prefixes. It and resolve_path are global functions:
// the verifier checks them once, not once per call site.
__noinline int has_prefix(struct event *e, int which)
{
	struct config *cfg = get_config();
	if (!e || !cfg)
		return 0;
	const char *s = which ? e->str1 : e->str0;
	u32 n = cfg->nprefixes;
	for (u32 i = 0; i < MAX_PREFIXES; i++) {
		if (i >= n)
			break;
		u32 key = i;
		struct prefix *p = bpf_map_lookup_elem(&prefixes, &key);
		if (!p)
			break;
		u32 len = p->len;
		int match = 1;
		for (u32 j = 0; j < PREFIX_LEN; j++) {
			if (j >= len)
				break;
			if (s[j] != p->p[j]) {
				match = 0;
				break;
			}
		}
		if (match)
			return 1;
	}
	return 0;
}

// dir_droppable reports whether no path below the directory whose path is
// the first n bytes of pb->b can start with a configured prefix: neither
// is that path plus "/" a prefix of one of them, nor one of them a prefix
// of it.
__noinline int dir_droppable(struct pathbuf *pb, u32 n)
{
	struct config *cfg = get_config();
	if (!pb || !cfg || n == 0 || n >= STR_LEN)
		return 0;
	u32 np = cfg->nprefixes;
	for (u32 i = 0; i < MAX_PREFIXES; i++) {
		if (i >= np)
			break;
		u32 key = i;
		struct prefix *p = bpf_map_lookup_elem(&prefixes, &key);
		if (!p)
			return 0;
		u32 len = p->len;
		int comparable = 1;
		for (u32 j = 0; j < PREFIX_LEN; j++) {
			if (j >= len || j > n)
				break; // one is a prefix of the other
			char c = j < n ? pb->b[j & (STR_LEN - 1)] : '/';
			if (c != p->p[j]) {
				comparable = 0;
				break;
			}
		}
		if (comparable)
			return 0;
	}
	return 1;
}

// has_dotdot reports whether the first n bytes of s contain "..": a
// relative path climbing out of its directory is kept whatever the
// directory (the filter does not normalise paths).
static __always_inline int has_dotdot(const char *s, u32 n)
{
	for (u32 j = 0; j + 1 < STR_LEN; j++) {
		if (j + 1 >= n)
			break;
		if (s[j] == '.' && s[j + 1] == '.')
			return 1;
	}
	return 0;
}

// file_of returns the task's open file for fd, or NULL.
static __always_inline struct file *file_of(struct task_struct *task, s64 fd)
{
	struct fdtable *fdt = task->files->fdt;
	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	return bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
}

// resolve_path writes the absolute form of the relative path in str0 to
// str1: the directory (dirfd's file, or the working directory for
// AT_FDCWD) as a walk from its dentry up to the task's root, crossing mount
// points, followed by "/" and str0 unchanged (user space cleans "." and
// ".."). It is the path as the task sees it, so a container's file has its
// in-container name, as in Falco. It returns 0 when the path cannot be
// built (too long, too deep, no such fd); the event then keeps the
// relative path and user space falls back to /proc. With cache set (an open
// the prefix filter applies to, no ".." in the name) it first looks the
// directory up in dircache and returns 2 when it is known that nothing
// below it can pass the filter, and it records such directories.
__noinline int resolve_path(struct event *e, long dirfd, int cache)
{
	if (!e)
		return 0;
	u32 rl = e->len0; // includes the NUL
	if (rl < 2 || rl > STR_LEN)
		return 0;
	rl--;
	u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = task->fs;
	struct dentry *root_d = fs->root.dentry;
	struct vfsmount *root_m = fs->root.mnt;
	struct dentry *d;
	struct vfsmount *m;
	if (dirfd == AT_FDCWD) {
		d = fs->pwd.dentry;
		m = fs->pwd.mnt;
	} else {
		struct file *f = file_of(task, dirfd);
		if (!f)
			return 0;
		d = f->f_path.dentry;
		m = f->f_path.mnt;
	}
	if (!d || !m)
		return 0;

	struct dir_key key = {
		.dentry = (u64)d,
		.mnt = (u64)m,
		.root_dentry = (u64)root_d,
		.root_mnt = (u64)root_m,
	};
	struct dir_val val = {};
	if (cache) {
		u64 *g = bpf_map_lookup_elem(&dircache_gen, &zero);
		if (!g)
			return 0;
		val.gen = *g;
		val.parent = (u64)d->d_parent;
		val.hash_len = d->d_name.hash_len;
		val.inode = (u64)d->d_inode;
		struct dir_val *v = bpf_map_lookup_elem(&dircache, &key);
		if (v && v->gen == val.gen && v->parent == val.parent && v->hash_len == val.hash_len &&
		    v->inode == val.inode)
			return 2;
	}

	// Walk up: name[i]/len[i] is the i-th step from the bottom; crossing a
	// mount records no name (length 0, and an address a zero-length read
	// accepts).
	int depth = -1;
	for (int i = 0; i < PATH_DEPTH; i++) {
		if (d == root_d && m == root_m) {
			depth = i;
			break;
		}
		if (d == m->mnt_root) {
			// The top of a mount: continue at its mount point in the
			// parent mount, or stop at the top of the namespace.
			struct mount *mnt = bpf_rdonly_cast((void *)m - bpf_core_field_offset(struct mount, mnt),
							    bpf_core_type_id_kernel(struct mount));
			struct mount *parent = mnt->mnt_parent;
			if (!parent || parent == mnt) {
				depth = i;
				break;
			}
			pb->name[i] = (u64)d->d_name.name;
			pb->len[i] = 0;
			d = mnt->mnt_mountpoint;
			m = &parent->mnt;
			continue;
		}
		struct dentry *up = d->d_parent;
		if (!up || up == d) {
			depth = i; // the root of a file system not mounted here
			break;
		}
		pb->name[i] = (u64)d->d_name.name;
		pb->len[i] = d->d_name.len;
		d = up;
	}
	if (depth < 0)
		return 0;

	// Write root first: "/" name ... "/" str0. The loop only ever stops
	// early or goes on one way (a zero length writes nothing and does not
	// move), so the verifier walks it once per depth.
	u32 off = 0;
	for (int k = 0; k < PATH_DEPTH; k++) {
		int j = depth - 1 - k;
		if (j < 0)
			break;
		u32 len = pb->len[j & (PATH_DEPTH - 1)];
		if (off + len + 1 >= STR_LEN)
			return 0;
		len &= STR_LEN - 1;
		pb->b[off & (STR_LEN - 1)] = '/';
		off += (len + STR_LEN - 1) / STR_LEN; // 1 for a name, 0 for a mount crossing
		if (bpf_probe_read_kernel(&pb->b[off & (STR_LEN - 1)], len, (const void *)pb->name[j & (PATH_DEPTH - 1)]))
			return 0;
		off += len;
		asm volatile("" : "+r"(off));
	}
	if (cache && dir_droppable(pb, off))
		bpf_map_update_elem(&dircache, &key, &val, BPF_ANY);
	if (off + rl + 1 >= STR_LEN)
		return 0;
	pb->b[off & (STR_LEN - 1)] = '/';
	off++;
	if (bpf_probe_read_kernel(&pb->b[off & (STR_LEN - 1)], rl & (STR_LEN - 1), e->str0))
		return 0;
	off += rl;
	// Keep the mask: clang would drop it (it knows off < STR_LEN here),
	// the verifier does not.
	asm volatile("" : "+r"(off));
	if (bpf_probe_read_kernel(e->str1, off & (STR_LEN - 1), pb->b))
		return 0;
	e->str1[off & (STR_LEN - 1)] = 0;
	e->len1 = off + 1;
	e->flags |= F_PATH_RESOLVED;
	return 1;
}

// open_wanted applies the open prefix filter to the path in str0, made
// absolute first when it is relative.
static __always_inline int open_wanted(struct config *cfg, struct event *e, long dirfd)
{
	if (e->len0 == 0)
		return cfg->open_filter == 0;
	if (e->str0[0] == '/')
		return !cfg->open_filter || has_prefix(e, 0);
	int dotdot = has_dotdot(e->str0, e->len0);
	int resolved = resolve_path(e, dirfd, cfg->open_filter && !dotdot);
	if (resolved == 2) {
		count(2);
		return 0;
	}
	if (!cfg->open_filter)
		return 1;
	if (!resolved)
		return cfg->keep_relative;
	return dotdot || has_prefix(e, 1);
}

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
