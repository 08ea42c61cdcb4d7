//! A child process whose output is captured line by line and which is killed
//! on drop.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running child with its stdout delivered line by line and its stderr
/// collected for error messages. Dropping it kills (SIGKILL) and reaps it.
#[derive(Debug)]
pub struct Spawned {
    label: String,
    child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Takes over `child`, which must have been spawned with piped stdout
    /// and stderr.
    pub fn new(label: impl Into<String>, mut child: Child) -> Self {
        let (tx, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("stdout must be piped");
        let all = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                all.lock().unwrap().push(line.clone());
                // The receiver may be gone once nobody waits for lines.
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().expect("stderr must be piped");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            label: label.into(),
            child,
            lines,
            stdout,
            stderr,
            status: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits until a stdout line satisfies `pred`, returning it; `None` on
    /// timeout or when the process closed stdout first.
    pub fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return Some(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // own unreaped child, so it cannot name a recycled process.
        unsafe { libc::kill(pid, signal) };
    }

    /// The exit status if the process has exited, without blocking.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Waits up to `timeout` for the process to exit. Once it has, stdout is
    /// read to its end, so [`Self::stdout_lines`] is complete.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.try_status() {
                // Drain: the reader thread ends when stdout closes.
                while self.lines.recv_timeout(Duration::from_secs(2)).is_ok() {}
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// A description for failure messages: label, pid, stderr.
    pub fn describe(&self) -> String {
        format!(
            "{} (pid {}), stderr:\n{}",
            self.label,
            self.child.id(),
            self.stderr()
        )
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Makes the child get SIGKILL when the thread that spawns it ends, so that
/// a test process killed outright (a CI timeout) leaves no dnsmasq or
/// firewall running. Only for children spawned from a thread that lives as
/// long as they should, such as the test's own thread.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl,
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
