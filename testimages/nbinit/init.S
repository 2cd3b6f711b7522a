/*
 * rpvboot's NetBSD test init: a static NetBSD/amd64 program for /sbin/init on the e2e disks
 * booted with a real NetBSD XEN3_DOMU kernel (no NetBSD userland exists in the tests).
 *
 * It prints ONE line on /dev/console, then powers the domain off:
 *
 *   RPVBOOT-NBINIT argv=<argv, comma separated> root=<kern.root_device> part=<letter>
 *     fstype=<statvfs("/") f_fstypename> from=<f_mntfromname> id=</rpvboot/id>
 *     fnv1a=<FNV-1a 64 of /rpvboot/data> check=<ok|bad|missing>
 *   RPVBOOT-NBINIT poweroff
 *
 * `check=ok` means the checksum equals the 16 hex digits of /rpvboot/fnv1a, which the
 * host wrote into the image next to the data. The ABI facts used (see docs/netbsd-bootdev.md,
 * "The test init"):
 * - the `.note.netbsd.ident` note (name "NetBSD", type 1, the 4-byte __NetBSD_Version__) in a
 *   PT_NOTE segment, which makes the kernel run the binary as a native NetBSD one;
 * - system calls: number in %rax, arguments in %rdi %rsi %rdx %r10 %r8 %r9, `syscall`,
 *   carry set on error; numbers from NetBSD's sys/kern/syscalls.master;
 * - at entry (%rsp) is argc, followed by the argv pointers.
 */

	.set	SYS_exit, 1
	.set	SYS_read, 3
	.set	SYS_write, 4
	.set	SYS_open, 5
	.set	SYS_close, 6
	.set	SYS___sysctl, 202
	.set	SYS_reboot, 208
	.set	SYS_statvfs1, 357

	.set	O_RDONLY, 0
	.set	O_RDWR, 2
	.set	ST_WAIT, 1
	.set	CTL_KERN, 1
	.set	KERN_ROOT_DEVICE, 30
	.set	KERN_ROOT_PARTITION, 74
	/* RB_HALT | RB_POWERDOWN (sys/reboot.h: RB_POWERDOWN includes RB_HALT) */
	.set	RB_POWERDOWN, 0x808

	/* struct statvfs (sys/statvfs.h, NetBSD 3..9): the name fields' offsets on LP64 */
	.set	SV_SIZE, 2256
	.set	SV_FSTYPENAME, 172
	.set	SV_MNTFROMNAME, 1228

	.set	BUFSZ, 65536
	/* at most this many bytes of /rpvboot/data are summed (bounded loop) */
	.set	DATA_MAX, 16777216
	.set	ARGV_MAX, 8

	.section .note.netbsd.ident, "a", @note
	.balign	4
	.long	7			/* namesz: "NetBSD\0" */
	.long	4			/* descsz */
	.long	1			/* NT_NETBSD_IDENT */
	.asciz	"NetBSD"
	.balign	4
	.long	799000400		/* 7.99.4 */
	.balign	4

	.text
	.globl	_start
	.type	_start, @function
_start:
	movq	%rsp, %rbp		/* (%rbp) = argc, 8(%rbp) = argv[0] */
	andq	$-16, %rsp

	leaq	p_console(%rip), %rdi
	movl	$O_RDWR, %esi
	xorl	%edx, %edx
	movl	$SYS_open, %eax
	syscall
	jc	1f
	movl	%eax, confd(%rip)
1:
	leaq	s_head(%rip), %rdi
	call	puts

	/* argv */
	movq	(%rbp), %r12
	cmpq	$ARGV_MAX, %r12
	jbe	2f
	movq	$ARGV_MAX, %r12
2:	xorl	%r14d, %r14d
3:	cmpq	%r12, %r14
	jae	5f
	testq	%r14, %r14
	jz	4f
	leaq	s_comma(%rip), %rdi
	call	puts
4:	movq	8(%rbp,%r14,8), %rdi
	call	puts
	incq	%r14
	jmp	3b
5:
	/* kern.root_device */
	leaq	s_root(%rip), %rdi
	call	puts
	movl	$KERN_ROOT_DEVICE, %eax
	leaq	strbuf(%rip), %rdx
	movq	$63, %rcx
	call	sysctl_kern
	jc	6f
	leaq	strbuf(%rip), %rdi
	call	puts
	jmp	7f
6:	leaq	s_err(%rip), %rdi
	call	puts
7:
	/* kern.root_partition: a letter */
	leaq	s_part(%rip), %rdi
	call	puts
	movl	$KERN_ROOT_PARTITION, %eax
	leaq	intbuf(%rip), %rdx
	movq	$4, %rcx
	call	sysctl_kern
	jc	8f
	movl	intbuf(%rip), %eax
	cmpl	$16, %eax
	jae	8f
	addb	$'a', %al
	call	putc
	jmp	9f
8:	leaq	s_err(%rip), %rdi
	call	puts
9:
	/* statvfs1("/") */
	leaq	p_root(%rip), %rdi
	leaq	svbuf(%rip), %rsi
	movl	$ST_WAIT, %edx
	movl	$SYS_statvfs1, %eax
	syscall
	jc	10f
	movb	$0, svbuf+SV_FSTYPENAME+31(%rip)
	movb	$0, svbuf+SV_MNTFROMNAME+1023(%rip)
	leaq	s_fstype(%rip), %rdi
	call	puts
	leaq	svbuf+SV_FSTYPENAME(%rip), %rdi
	call	puts
	leaq	s_from(%rip), %rdi
	call	puts
	leaq	svbuf+SV_MNTFROMNAME(%rip), %rdi
	call	puts
	jmp	11f
10:	leaq	s_fstype(%rip), %rdi
	call	puts
	leaq	s_err(%rip), %rdi
	call	puts
11:
	/* /rpvboot/id: its first line */
	leaq	s_id(%rip), %rdi
	call	puts
	leaq	p_id(%rip), %rdi
	leaq	strbuf(%rip), %rsi
	movl	$63, %edx
	call	read_small
	leaq	strbuf(%rip), %rdi
12:	movb	(%rdi), %al
	testb	%al, %al
	jz	13f
	cmpb	$'\n', %al
	je	13f
	incq	%rdi
	jmp	12b
13:	movb	$0, (%rdi)
	leaq	strbuf(%rip), %rdi
	call	puts

	/* FNV-1a 64 of /rpvboot/data */
	leaq	p_data(%rip), %rdi
	movl	$O_RDONLY, %esi
	xorl	%edx, %edx
	movl	$SYS_open, %eax
	syscall
	jc	30f
	movl	%eax, %r12d		/* fd */
	movabsq	$0xcbf29ce484222325, %rbx
	movabsq	$0x100000001b3, %r15
	xorl	%r14d, %r14d		/* bytes summed */
20:	cmpq	$DATA_MAX, %r14
	jae	24f
	movl	%r12d, %edi
	leaq	buf(%rip), %rsi
	movl	$BUFSZ, %edx
	movl	$SYS_read, %eax
	syscall
	jc	24f
	testq	%rax, %rax
	jz	24f
	addq	%rax, %r14
	leaq	buf(%rip), %rsi
	movq	%rax, %rcx
21:	movzbq	(%rsi), %rax
	xorq	%rax, %rbx
	imulq	%r15, %rbx
	incq	%rsi
	decq	%rcx
	jnz	21b
	jmp	20b
24:	movl	%r12d, %edi
	movl	$SYS_close, %eax
	syscall
	/* hex of %rbx into hexbuf */
	leaq	hexbuf+16(%rip), %rdi
	movb	$0, (%rdi)
	movl	$16, %ecx
25:	decq	%rdi
	movl	%ebx, %eax
	andl	$15, %eax
	leaq	hexdig(%rip), %rdx
	movb	(%rdx,%rax), %al
	movb	%al, (%rdi)
	shrq	$4, %rbx
	decl	%ecx
	jnz	25b
	leaq	s_fnv(%rip), %rdi
	call	puts
	leaq	hexbuf(%rip), %rdi
	call	puts
	/* the expected value */
	leaq	p_fnv(%rip), %rdi
	leaq	expbuf(%rip), %rsi
	movl	$16, %edx
	call	read_small
	cmpq	$16, %rax
	jne	27f
	leaq	hexbuf(%rip), %rsi
	leaq	expbuf(%rip), %rdi
	movl	$16, %ecx
	cld
	repe cmpsb
	jne	27f
	leaq	s_ok(%rip), %rdi
	call	puts
	jmp	40f
27:	leaq	s_bad(%rip), %rdi
	call	puts
	jmp	40f
30:	leaq	s_missing(%rip), %rdi
	call	puts
40:
	leaq	s_off(%rip), %rdi
	call	puts
	movl	$RB_POWERDOWN, %edi
	xorl	%esi, %esi
	movl	$SYS_reboot, %eax
	syscall
	leaq	s_failed(%rip), %rdi
	call	puts
41:	movl	$1, %edi
	movl	$SYS_exit, %eax
	syscall
	jmp	41b
	.size	_start, . - _start

/* sysctl({CTL_KERN, %eax}, 2, %rdx, &len = %rcx, NULL, 0); carry on error. */
	.type	sysctl_kern, @function
sysctl_kern:
	movl	$CTL_KERN, mib(%rip)
	movl	%eax, mib+4(%rip)
	movq	%rcx, oldlen(%rip)
	leaq	mib(%rip), %rdi
	movl	$2, %esi
	leaq	oldlen(%rip), %r10
	xorl	%r8d, %r8d
	xorl	%r9d, %r9d
	movl	$SYS___sysctl, %eax
	syscall
	ret
	.size	sysctl_kern, . - sysctl_kern

/* Reads up to %rdx bytes of the file %rdi into %rsi, NUL-terminated (the buffer holds
 * %rdx + 1 bytes); returns the count in %rax (0 when the file cannot be read). */
	.type	read_small, @function
read_small:
	pushq	%r12
	pushq	%r13
	pushq	%r14
	movq	%rsi, %r13
	movq	%rdx, %r14
	movb	$0, (%r13)
	movl	$O_RDONLY, %esi
	xorl	%edx, %edx
	movl	$SYS_open, %eax
	syscall
	jc	2f
	movl	%eax, %r12d
	movl	%r12d, %edi
	movq	%r13, %rsi
	movq	%r14, %rdx
	movl	$SYS_read, %eax
	syscall
	jnc	1f
	xorl	%eax, %eax
1:	movb	$0, (%r13,%rax)
	pushq	%rax
	movl	%r12d, %edi
	movl	$SYS_close, %eax
	syscall
	popq	%rax
	jmp	3f
2:	xorl	%eax, %eax
3:	popq	%r14
	popq	%r13
	popq	%r12
	ret
	.size	read_small, . - read_small

/* Writes the NUL-terminated string %rdi to the console (at most 1024 bytes). */
	.type	puts, @function
puts:
	movq	%rdi, %rsi
	xorl	%edx, %edx
1:	cmpl	$1024, %edx
	jae	2f
	cmpb	$0, (%rsi,%rdx)
	je	2f
	incl	%edx
	jmp	1b
2:	movl	confd(%rip), %edi
	movl	$SYS_write, %eax
	syscall
	ret
	.size	puts, . - puts

/* Writes the character %al. */
	.type	putc, @function
putc:
	movb	%al, chbuf(%rip)
	movb	$0, chbuf+1(%rip)
	leaq	chbuf(%rip), %rdi
	jmp	puts
	.size	putc, . - putc

	.section .rodata
p_console:	.asciz	"/dev/console"
p_root:		.asciz	"/"
p_id:		.asciz	"/rpvboot/id"
p_data:		.asciz	"/rpvboot/data"
p_fnv:		.asciz	"/rpvboot/fnv1a"
s_head:		.asciz	"\nRPVBOOT-NBINIT argv="
s_comma:	.asciz	","
s_root:		.asciz	" root="
s_part:		.asciz	" part="
s_fstype:	.asciz	" fstype="
s_from:		.asciz	" from="
s_id:		.asciz	" id="
s_fnv:		.asciz	" fnv1a="
s_ok:		.asciz	" check=ok\n"
s_bad:		.asciz	" check=bad\n"
s_missing:	.asciz	" fnv1a=- check=missing\n"
s_err:		.asciz	"?"
s_off:		.asciz	"RPVBOOT-NBINIT poweroff\n"
s_failed:	.asciz	"RPVBOOT-NBINIT reboot(2) failed\n"
hexdig:		.ascii	"0123456789abcdef"

	.data
	.balign	4
confd:		.long	1

	.bss
	.balign	16
mib:		.skip	8
oldlen:		.skip	8
intbuf:		.skip	8
chbuf:		.skip	8
strbuf:		.skip	64
hexbuf:		.skip	24
expbuf:		.skip	24
	.balign	16
svbuf:		.skip	SV_SIZE
	.balign	16
buf:		.skip	BUFSZ
