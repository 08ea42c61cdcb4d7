//! The TUN device: created by name (Linux shell) or adopted from a file
//! descriptor the OS handed over (Android's `VpnService.establish()`, the
//! iOS utun), and switched to non-blocking for the event loop.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::RuntimeError;

/// The largest packet read from or written to the tunnel.
pub const MAX_PACKET: usize = 65_535;

/// An open TUN device carrying raw IP packets (no packet-information header).
pub struct Tun {
    device: tun::Device,
    name: Option<String>,
}

impl std::fmt::Debug for Tun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("fd", &self.device.as_raw_fd())
            .finish()
    }
}

impl Tun {
    /// Creates the TUN interface `name` (requires CAP_NET_ADMIN). The caller
    /// gives it addresses and brings it up.
    pub fn create(name: &str, mtu: u16) -> Result<Self, RuntimeError> {
        let mut config = tun::Configuration::default();
        config.tun_name(name).mtu(mtu);
        let device = tun::create(&config).map_err(|e| RuntimeError::Tun(describe_tun_error(e)))?;
        device
            .set_nonblock()
            .map_err(|e| RuntimeError::Tun(e.to_string()))?;
        Ok(Self {
            device,
            name: Some(name.to_owned()),
        })
    }

    /// Adopts an open TUN file descriptor; it is closed when the firewall
    /// stops. Fails if `fd` is not an open descriptor.
    pub fn from_fd(fd: RawFd) -> Result<Self, RuntimeError> {
        // SAFETY: fcntl(F_GETFD) only asks whether the descriptor is open.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(RuntimeError::BadFd(fd));
        }
        let mut config = tun::Configuration::default();
        config.raw_fd(fd).close_fd_on_drop(true);
        let device = tun::create(&config).map_err(|e| RuntimeError::Tun(e.to_string()))?;
        device
            .set_nonblock()
            .map_err(|e| RuntimeError::Tun(e.to_string()))?;
        Ok(Self { device, name: None })
    }

    /// The interface name, when the firewall created it.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.device.as_raw_fd()
    }

    /// Reads one packet. On Linux and Android a TUN carries bare packets
    /// (no header to strip), so this is one `read(2)` into `buf`: the `tun`
    /// crate's own path zeroes a 1.5 KB buffer on every call first, a few
    /// percent of a blocked answer's cost. Elsewhere (the utun's 4-byte
    /// family header) the crate does it.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: `read` writes at most `buf.len()` bytes into `buf`,
            // from a descriptor this value owns and keeps open.
            let n = unsafe { libc::read(self.raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            self.device.recv(buf)
        }
    }

    /// Writes one packet (one `write(2)` on Linux and Android, as `recv`).
    pub(crate) fn send(&self, packet: &[u8]) -> io::Result<usize> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: `write` reads `packet.len()` bytes from `packet`, to a
            // descriptor this value owns and keeps open.
            let n = unsafe { libc::write(self.raw_fd(), packet.as_ptr().cast(), packet.len()) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            self.device.send(packet)
        }
    }
}

fn describe_tun_error(error: tun::Error) -> String {
    match &error {
        tun::Error::Io(io) if io.kind() == io::ErrorKind::NotFound => {
            "/dev/net/tun does not exist: load the tun module (modprobe tun) or run where TUN devices are available".into()
        }
        tun::Error::Io(io) if io.kind() == io::ErrorKind::PermissionDenied => {
            "not allowed to create a TUN device: run as root (or with CAP_NET_ADMIN)".into()
        }
        _ => error.to_string(),
    }
}
