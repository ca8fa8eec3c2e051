// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Paths for sensor.bpf.c (included once, after the event, config and
// counter helpers): the prefix filter, the walk that makes a relative
// path absolute, and the directory cache in front of it.
#pragma once

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

