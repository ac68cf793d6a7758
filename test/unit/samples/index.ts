/**
 * Configuration files as distributions and Xen tooling wrote them for Xen guests: xen-tools'
 * Debian guests, SUSE's installer (xvc0, gfxmenu), Red Hat's anaconda (co: getty on xvc0).
 */
export const DEBIAN_XEN_TOOLS_FSTAB = `# /etc/fstab: static file system information.
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
proc            /proc           proc    defaults        0       0
devpts          /dev/pts        devpts  rw,noexec,nosuid,gid=5,mode=620 0  0
/dev/xvda1 none swap sw 0 0
/dev/xvda2 / ext4 noatime,nodiratime,errors=remount-ro 0 1
/dev/xvdb1      /srv            xfs     defaults        0       2
UUID=0a3407de-014b-458b-b5c1-848e92a327a3 /home ext4 defaults 0 2
/dev/mapper/vg0-var /var ext4 defaults 0 2
`;

export const SUSE_FSTAB = `/dev/xvda1           swap                 swap       defaults              0 0
/dev/xvda2           /                    ext3       acl,user_xattr        1 1
proc                 /proc                proc       defaults              0 0
sysfs                /sys                 sysfs      noauto                0 0
debugfs              /sys/kernel/debug    debugfs    noauto                0 0
devpts               /dev/pts             devpts     mode=0620,gid=5       0 0
`;

export const SUSE_MENU_LST = `# Modified by YaST2. Last modification on Tue Mar 13 10:19:42 UTC 2012
default 0
timeout 8
gfxmenu (hd0,1)/boot/message
##YaST - activate

###Don't change this comment - YaST2 identifier: Original name: xen###
title SUSE Linux Enterprise Server 11 SP2 - 3.0.13-0.27
    root (hd0,1)
    kernel /boot/vmlinuz-3.0.13-0.27-xen root=/dev/xvda2 resume=/dev/xvda1 splash=silent showopts console=xvc0
    initrd /boot/initrd-3.0.13-0.27-xen
`;

export const DEBIAN_GRUB_CFG = `### BEGIN /etc/grub.d/10_linux ###
function gfxmode {
	set gfxpayload="\${1}"
}
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-0a3407de' {
	load_video
	insmod gzio
	insmod part_msdos
	insmod ext2
	search --no-floppy --fs-uuid --set=root 0a3407de-014b-458b-b5c1-848e92a327a3
	echo	'Loading Linux 6.1.0-18-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0a3407de-014b-458b-b5c1-848e92a327a3 ro  console=hvc0 quiet
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-6.1.0-18-amd64
}
### END /etc/grub.d/10_linux ###
`;

export const DEBIAN_SYSVINIT_INITTAB = `# /etc/inittab: init(8) configuration.
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
~~:S:wait:/sbin/sulogin --force
l2:2:wait:/etc/init.d/rc 2
ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now
1:2345:respawn:/sbin/getty --noclear 38400 hvc0
2:23:respawn:/sbin/getty 38400 tty2
# Example how to put a getty on a serial line (for a terminal)
#
#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100
#T1:23:respawn:/sbin/getty -L ttyS1 9600 vt100
`;

export const SUSE_INITTAB = `id:3:initdefault:
si::bootwait:/etc/init.d/boot
l3:3:wait:/etc/init.d/rc 3
1:2345:respawn:/sbin/mingetty --noclear tty1
2:2345:respawn:/sbin/mingetty tty2
#S0:12345:respawn:/sbin/agetty -L 9600 ttyS0 vt102
S0:12345:respawn:/sbin/agetty -L 9600 xvc0 vt102
`;

export const REDHAT_INITTAB = `id:3:initdefault:
si::sysinit:/etc/rc.d/rc.sysinit
l3:3:wait:/etc/rc.d/rc 3
co:2345:respawn:/sbin/agetty xvc0 9600 vt100-nav
1:2345:respawn:/sbin/mingetty tty1
`;

export const SECURETTY = `console
vc/1
tty1
tty2
xvc0
hvc0
`;

export const INITRAMFS_CONF = `#
# initramfs.conf
#
MODULES=dep
BUSYBOX=auto
COMPRESS=zstd
`;

export const SUSE_SYSCONFIG_KERNEL = `## Path:	System/Kernel
## Description:
## Type:	string
## Command:	/sbin/mkinitrd
#
# This variable contains the list of modules to be added to the initial
# ramdisk by calling the script "mkinitrd"
#
INITRD_MODULES="processor thermal fan jbd ext3 xenblk xennet"

## Type:	string
## Command:	/sbin/mkinitrd
#
# This variable contains the list of modules to be added to the initial
# ramdisk that is created for unprivileged Xen domains (domU); you may need
# drivers for virtual block and network devices in addition to filesystem
# and device-mapper modules.
#
DOMU_INITRD_MODULES="xennet xenblk dm-mod"

## Type:        string
## ServiceRestart: boot.loadmodules
#
MODULES_LOADED_ON_BOOT=""
`;

export const SUSE_SYSCONFIG_BOOTLOADER = `## Path:	System/Bootloader
## Description:	Bootloader configuration
## Type:	list(grub,lilo,none)
LOADER_TYPE="grub"
## Type:	string
## Default:	""
DEFAULT_APPEND="   resume=/dev/xvda1 splash=silent showopts console=xvc0"
## Type:	string
DEFAULT_VGA=""
## Type:	string
FAILSAFE_APPEND="showopts ide=nodma apm=off noresume edd=off powersaved=off nohz=off highres=off processor.max_cstate=1 nomodeset x11failsafe"
## Type:	string
XEN_KERNEL_APPEND="resume=/dev/xvda1 splash=silent showopts console=xvc0"
## Type:	string
XEN_APPEND=""
`;

export const REDHAT_SYSCONFIG_KERNEL = `# UPDATEDEFAULT specifies if new-kernel-pkg should make
# new kernels the default
UPDATEDEFAULT=yes

# DEFAULTKERNEL specifies the default kernel package type
DEFAULTKERNEL=kernel-xen
`;

export const RHEL5_MODPROBE_CONF = `alias eth0 xennet
alias scsi_hostadapter xenblk
alias eth1 xennet
options ip_conntrack hashsize=16384
`;
