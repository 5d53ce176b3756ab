//! The process group a shell job runs in, and killing it. A job's command is often a shell script that starts
//! children of its own (`make`, pipelines, `sleep 30 &`): signalling only the direct child would leave those
//! running, still holding the output pipes open. Spawning the child as the leader of a new group
//! (`process_group(0)`) puts everything it starts in that group, so one `killpg` reaches all of it.
//!
//! It does not find processes that left the group on purpose (`setsid`, a daemon's double fork).

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The group led by a freshly spawned child; its id is the child's pid.
///
/// Dropping a `ProcessGroup` that was not [`ProcessGroup::disarm`]ed SIGKILLs the group, so an attempt whose
/// future is dropped half-way (a worker shutting down) leaves no processes behind.
#[derive(Debug)]
pub(super) struct ProcessGroup {
    pgid: Option<Pid>,
}

impl ProcessGroup {
    /// `pid` is `Child::id()` right after spawning; it is only `None` if the child was already reaped.
    pub(super) fn led_by(pid: Option<u32>) -> ProcessGroup {
        ProcessGroup { pgid: pid.and_then(|p| i32::try_from(p).ok()).map(Pid::from_raw) }
    }

    /// Sends `signal` to every process in the group. A group that is already empty is not an error.
    ///
    /// A group id is the leader's pid, and the kernel does not hand that pid to a new process while any member of
    /// the group (or the unreaped leader) exists. The only window for signalling a stranger is an empty group whose
    /// id was recycled between the leader being reaped and this call, which needs the whole pid space to wrap in
    /// that instant.
    pub(super) fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH (nobody left) is the common case once a job has ended. EPERM would mean a member changed its
            // user id (a setuid program): there is nothing more this process can do about it either way.
            let _ = killpg(pgid, signal);
        }
    }

    /// The attempt ended and the group was dealt with: dropping it no longer kills anything.
    pub(super) fn disarm(mut self) {
        self.pgid = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}
