//! `shelfsync serve` as a child process: started on a free loopback port with a known admin
//! token, read through /proc for CPU and peak RSS, and always killed (the guard's `Drop` runs on
//! return, on error and on panic unwinding).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::RunError;

/// The longest wait for the service's first line.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Clock ticks a second of /proc/PID/stat's utime and stime (USER_HZ, 100 on every Linux
/// architecture this runs on; the bench has no libc binding to ask sysconf).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// The service binary: `--service-bin`, else `shelfsync` beside the bench binary (both in the
/// same cargo target directory).
pub fn locate_binary(explicit: Option<&Path>) -> Result<PathBuf, RunError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(RunError::ServiceBinary {
                path: path.to_path_buf(),
            })
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("shelfsync")));
    match beside {
        Some(path) if path.is_file() => Ok(path),
        other => Err(RunError::ServiceBinary {
            path: other.unwrap_or_else(|| PathBuf::from("shelfsync")),
        }),
    }
}

/// A running `shelfsync serve`.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The admin token it was started with.
    pub token: String,
    /// Its data directory (removed with the guard).
    _data: tempfile::TempDir,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl ServiceProcess {
    /// Starts the service with `token` as the first admin's token and waits for its first line.
    pub fn start(binary: &Path, token: &str) -> Result<ServiceProcess, RunError> {
        let data = tempfile::tempdir().map_err(RunError::io("temporary data dir"))?;
        let log = data.path().join("service.log");
        let stderr = std::fs::File::create(&log).map_err(RunError::io("service log"))?;
        let mut child = Command::new(binary)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .env("SHELFSYNC_ADMIN_TOKEN", token)
            // The bench's marketplaces are mocks on loopback, over plain http.
            .env("SHELFSYNC_SECURITY_ALLOW_PRIVATE_NETWORKS", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(RunError::io("spawning shelfsync serve"))?;
        let stdout = child.stdout.take();
        let mut service = ServiceProcess {
            child: Some(child),
            base_url: String::new(),
            token: token.to_string(),
            _data: data,
            log,
        };
        let Some(stdout) = stdout else {
            return Err(RunError::ServiceStart("no stdout".into()));
        };
        // A reader thread keeps draining stdout so the service never blocks on a full pipe; the
        // first line is handed over, the rest dropped. It ends when the pipe closes.
        let (first, first_line) = mpsc::channel();
        std::thread::Builder::new()
            .name("serve-stdout".into())
            .spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(line)) = lines.next() {
                    let _ = first.send(line);
                }
                for _ in lines.map_while(Result::ok) {}
            })
            .map_err(RunError::io("stdout reader"))?;
        let line = first_line.recv_timeout(START_TIMEOUT).map_err(|_| {
            RunError::ServiceStart(format!(
                "no first line within {START_TIMEOUT:?}; log: {}",
                service.log.display()
            ))
        })?;
        let url = line
            .strip_prefix("listening on ")
            .ok_or_else(|| RunError::ServiceStart(format!("unexpected first line {line:?}")))?;
        service.base_url = url.trim().to_string();
        Ok(service)
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` once the process has ended (a crash, during a run).
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(error) => Some(error.to_string()),
        }
    }

    /// CPU seconds (user + system) used so far, from /proc/PID/stat.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // The command name (field 2) may hold spaces; fields after its closing paren are plain.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the paren.
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / CLOCK_TICKS_PER_SEC)
    }

    /// Peak resident set size in MiB (VmHWM of /proc/PID/status).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// Kills the process and waits for it (SIGKILL: the bench needs no graceful drain, and the
    /// data dir is thrown away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
