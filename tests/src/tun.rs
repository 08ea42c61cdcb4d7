//! A TUN device opened by the test itself, handed to `tacet run --fd` the way
//! Android's `VpnService` hands one over.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::firewall::{tacet_bin, Firewall, FirewallOptions};
use crate::lab::Lab;
use crate::netns::run_ok;

/// `_IOW('T', 202, int)` from `<linux/if_tun.h>`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

/// `struct ifreq` as TUNSETIFF reads it: a name and the flags, padded to the
/// kernel's 40 bytes.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens `/dev/net/tun` and attaches a new TUN device `name` (IFF_TUN,
/// IFF_NO_PI) in the calling thread's network namespace.
///
/// The file is close-on-exec so that no other child the test process spawns
/// meanwhile (tests run in parallel) inherits it; the one child meant to get
/// it clears the flag after fork, see [`start_on_fd`].
pub fn open_tun(name: &str) -> File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/net/tun")
        .unwrap_or_else(|e| panic!("open /dev/net/tun: {e}"));
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI,
        _pad: [0; 22],
    };
    assert!(
        name.len() < libc::IFNAMSIZ,
        "interface name too long: {name}"
    );
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: `req` is a properly sized, initialised ifreq that outlives the
    // call, and the fd is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req) };
    assert_eq!(
        rc,
        0,
        "TUNSETIFF {name}: {}",
        std::io::Error::last_os_error()
    );
    file
}

/// Creates TUN `name` inside the lab's phone namespace, gives it the
/// tunnel's addresses (`tacet run --fd` leaves that to the caller, as
/// Android's `VpnService.Builder` does) and starts `tacet run --fd N` on it.
///
/// The fd is opened and the child spawned from a thread inside the phone
/// namespace, so the device, the child's sockets and the child itself all
/// live there. The test's own copy of the fd is closed once the child runs:
/// from then on the device lives exactly as long as tacet holds it.
pub fn start_on_fd(lab: &Lab, name: &str, opts: &FirewallOptions) -> Firewall {
    let (args, scratch) = opts.run_args();
    lab.phone.enter(move || {
        let tun = open_tun(name);
        run_ok(Command::new("ip").args(["addr", "add", "10.111.222.1/24", "dev", name]));
        run_ok(Command::new("ip").args([
            "-6",
            "addr",
            "add",
            "fd74:6163:6574::1/64",
            "dev",
            name,
            "nodad",
        ]));
        run_ok(Command::new("ip").args(["link", "set", name, "up"]));
        let fd = tun.as_raw_fd();
        let mut cmd = Command::new(tacet_bin());
        cmd.args(["run", "--fd", &fd.to_string()]).args(&args);
        // SAFETY: the closure runs between fork and exec and only calls
        // fcntl, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let fw = Firewall::spawn(cmd, scratch);
        drop(tun);
        fw
    })
}
