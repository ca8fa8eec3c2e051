// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Kernel types the sensor reads, for sensor.bpf.c (included once).
#pragma once

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
