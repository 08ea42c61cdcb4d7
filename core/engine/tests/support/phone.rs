//! The phone's side of a TCP conversation with the engine, in memory: a
//! smoltcp interface at 10.111.222.1 whose packets go straight to
//! `Engine::handle_tun_packet` and back.

use std::collections::VecDeque;
use std::time::Instant;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use tacet_engine::Engine;

#[derive(Default)]
pub struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}
pub struct Rx(Vec<u8>);
pub struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);
impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut p = vec![0; len];
        let r = f(&mut p);
        self.0.push_back(p);
        r
    }
}
impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _: SmolInstant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }
    fn transmit(&mut self, _: SmolInstant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = 1500;
        c
    }
}

/// The phone's side: one smoltcp interface at 10.111.222.1.
pub struct Phone {
    pub iface: Interface,
    pub device: Queues,
    pub sockets: SocketSet<'static>,
    t0: Instant,
}

impl Phone {
    pub fn new(t0: Instant) -> Self {
        let mut device = Queues::default();
        let mut iface = Interface::new(
            IfaceConfig::new(HardwareAddress::Ip),
            &mut device,
            SmolInstant::ZERO,
        );
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 111, 222, 1), 24))
                .unwrap()
        });
        iface
            .routes_mut()
            .add_default_ipv4_route(Ipv4Address::new(10, 111, 222, 53))
            .unwrap();
        Self {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            t0,
        }
    }

    pub fn connect(&mut self, to: (IpAddress, u16), local_port: u16) -> SocketHandle {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 65_536]),
            tcp::SocketBuffer::new(vec![0; 65_536]),
        );
        let handle = self.sockets.add(socket);
        let cx = self.iface.context();
        self.sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(cx, to, local_port)
            .unwrap();
        handle
    }

    pub fn socket(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Moves packets both ways until neither side has more to say.
    pub fn pump(&mut self, engine: &mut Engine, now: Instant) {
        let smol = SmolInstant::from_micros(now.duration_since(self.t0).as_micros() as i64);
        for _ in 0..100 {
            self.iface.poll(smol, &mut self.device, &mut self.sockets);
            let mut moved = false;
            while let Some(p) = self.device.tx.pop_front() {
                engine.handle_tun_packet(now, &p);
                moved = true;
            }
            while let Some(p) = engine.poll_tun_packet() {
                self.device.rx.push_back(p);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the conversation never settled");
    }

    /// Reads whole length-prefixed messages received on `h`.
    pub fn read_messages(&mut self, h: SocketHandle) -> Vec<Vec<u8>> {
        let mut bytes = Vec::new();
        let socket = self.socket(h);
        while socket.can_recv() {
            socket
                .recv(|b| (b.len(), bytes.extend_from_slice(b)))
                .unwrap();
        }
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while rest.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            out.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
        }
        assert!(rest.is_empty(), "a partial message");
        out
    }
}
