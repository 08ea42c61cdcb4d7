//! `dig` and `kdig` run inside a namespace, their replies parsed into what a
//! user reads off them: status, flags and answer records.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// Which query tool to run. Both are real clients with their own DNS code,
/// so a reply that satisfies both is not shaped to one parser's leniency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// ISC BIND's `dig`.
    Dig,
    /// Knot DNS's `kdig`.
    Kdig,
}

/// One query to send: server, name, type and transport.
#[derive(Clone, Debug)]
pub struct Dig {
    tool: Tool,
    server: String,
    name: String,
    qtype: String,
    tcp: bool,
    timeout_secs: u32,
}

/// One resource record of an answer section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Owner name, as printed (absolute, with the trailing dot).
    pub name: String,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Record type, e.g. `A`.
    pub rtype: String,
    /// Record data as printed, fields joined by single spaces.
    pub data: String,
}

/// A parsed reply.
#[derive(Clone, Debug)]
pub struct DnsReply {
    /// RCODE name: `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`…
    pub status: String,
    /// Header flags, lower case: `qr`, `aa`, `rd`, `ra`…
    pub flags: Vec<String>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// Wall time of the whole client run, process start included.
    pub elapsed: Duration,
    /// The tool's complete output, for failure messages.
    pub raw: String,
}

impl DnsReply {
    /// The record data of all answers of type `rtype`.
    pub fn data_of(&self, rtype: &str) -> Vec<String> {
        self.answers
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.data.clone())
            .collect()
    }

    /// The answer section without TTLs, for comparing two replies whose
    /// TTLs may legitimately differ.
    pub fn answers_without_ttl(&self) -> Vec<(String, String, String)> {
        self.answers
            .iter()
            .map(|r| (r.name.clone(), r.rtype.clone(), r.data.clone()))
            .collect()
    }
}

impl Dig {
    /// A `dig` query for the A record of `name` at `server` (an address).
    pub fn new(server: &str, name: &str) -> Self {
        Self {
            tool: Tool::Dig,
            server: server.to_owned(),
            name: name.to_owned(),
            qtype: "A".to_owned(),
            tcp: false,
            timeout_secs: 5,
        }
    }

    /// The record type to ask for (`A`, `AAAA`, `TXT`, `MX`…).
    pub fn qtype(mut self, qtype: &str) -> Self {
        self.qtype = qtype.to_owned();
        self
    }

    /// Use `kdig` instead of `dig`.
    pub fn kdig(mut self) -> Self {
        self.tool = Tool::Kdig;
        self
    }

    /// Query over TCP instead of UDP.
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// How long the client waits for the reply (one try, no retries).
    pub fn timeout_secs(mut self, secs: u32) -> Self {
        self.timeout_secs = secs;
        self
    }

    fn command(&self, ns: &Netns) -> Command {
        let (program, retry) = match self.tool {
            Tool::Dig => ("dig", "+tries=1"),
            Tool::Kdig => ("kdig", "+retry=0"),
        };
        let mut cmd = ns.command(program);
        cmd.arg(format!("@{}", self.server))
            .arg(&self.name)
            .arg(&self.qtype)
            .arg(retry)
            .arg(format!("+time={}", self.timeout_secs));
        if self.tcp {
            cmd.arg("+tcp");
        }
        cmd
    }

    /// Sends the query from inside `ns`; `Err` carries the tool's output
    /// when no reply came (timeout, refused connection).
    pub fn run_in(&self, ns: &Netns) -> Result<DnsReply, String> {
        let start = Instant::now();
        let out = self
            .command(ns)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", self.tool));
        parse(&out, start.elapsed()).ok_or_else(|| {
            format!(
                "{:?} @{} {} {}: no reply ({}):\n{}{}",
                self.tool,
                self.server,
                self.name,
                self.qtype,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// Like [`Self::run_in`], but a missing reply fails the test.
    pub fn expect_in(&self, ns: &Netns) -> DnsReply {
        self.run_in(ns).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Parses dig's or kdig's presentation output. Both print a header line with
/// `status: X` and a flags line, then `;; ANSWER SECTION:` and one record a
/// line until a blank line.
fn parse(out: &Output, elapsed: Duration) -> Option<DnsReply> {
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = raw.lines().find_map(|l| field_after(l, "status: "))?;
    let flags = raw
        .lines()
        .find_map(|l| field_after(&l.to_ascii_lowercase(), "flags: "))
        .map(|f| f.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut answers = Vec::new();
    let mut in_answer = false;
    for line in raw.lines() {
        if line.starts_with(";; ANSWER SECTION:") {
            in_answer = true;
        } else if in_answer {
            if line.trim().is_empty() || line.starts_with(";;") {
                break;
            }
            answers.push(parse_record(line)?);
        }
    }
    Some(DnsReply {
        status,
        flags,
        answers,
        elapsed,
        raw,
    })
}

/// The text after `key` up to the next `,` or `;`.
fn field_after(line: &str, key: &str) -> Option<String> {
    let start = line.find(key)? + key.len();
    let rest = &line[start..];
    let end = rest.find([',', ';']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

fn parse_record(line: &str) -> Option<Record> {
    let mut fields = line.split_whitespace();
    let name = fields.next()?.to_owned();
    let ttl = fields.next()?.parse().ok()?;
    let class = fields.next()?;
    if class != "IN" {
        return None;
    }
    let rtype = fields.next()?.to_owned();
    let data = fields.collect::<Vec<_>>().join(" ");
    Some(Record {
        name,
        ttl,
        rtype,
        data,
    })
}
