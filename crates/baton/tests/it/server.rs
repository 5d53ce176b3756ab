//! Starts real `baton serve` processes on port 0 and stops them (gracefully or with `kill -9`).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use baton_client::BatonClient;

pub const BATON: &str = env!("CARGO_BIN_EXE_baton");

pub struct Server {
    child: Child,
    pub url: String,
    args: Vec<String>,
}

impl Server {
    /// An embedded server on a data dir of the caller's.
    pub fn embedded(data_dir: &Path) -> Self {
        Self::start(vec!["--data-dir".into(), data_dir.display().to_string()])
    }

    /// A cluster node on the given PostgreSQL database.
    pub fn cluster(database_url: &str) -> Self {
        Self::start(vec!["--database-url".into(), database_url.to_owned()])
    }

    pub fn start(extra: Vec<String>) -> Self {
        Self::try_start(extra).unwrap_or_else(|output| panic!("baton serve did not start:\n{output}"))
    }

    /// Starts a server; on failure returns what it printed.
    pub fn try_start(extra: Vec<String>) -> Result<Self, String> {
        let mut args = vec!["serve".to_owned(), "--http-addr".to_owned(), "127.0.0.1:0".to_owned()];
        args.extend(extra);
        let mut child = Command::new(BATON)
            .args(&args)
            .env("RUST_LOG", "warn")
            .env_remove("BATON_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn baton serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the first line");
        let Some(url) = line.split_whitespace().find(|word| word.starts_with("http://")).map(str::to_owned) else {
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
            let _ = child.wait();
            return Err(format!("{line}{stderr}"));
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        Ok(Self { child, url, args })
    }

    pub fn client(&self) -> BatonClient {
        BatonClient::new(&self.url).expect("client")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success());
        self.child.wait().expect("wait for baton")
    }

    /// SIGTERM, then everything the server wrote to stderr (its log, at `RUST_LOG=warn`).
    pub fn stop_and_read_log(mut self) -> String {
        self.terminate();
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut log).expect("read the server's stderr");
        }
        log
    }

    /// Starts a new process with the same arguments (a different port).
    pub fn restart(&mut self) {
        self.kill_hard();
        let args = self.args[3..].to_vec();
        *self = Self::start(args);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn data_dir(temp: &tempfile::TempDir) -> PathBuf {
    temp.path().join("data")
}

/// Polls `check` until it holds, for at most five seconds (for state that another process changes).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}
