//! The saga state machine, pure: given where a saga is and how its current step's job ended, what runs next.
//! The store applies a [`Transition`] in the same transaction that finalized the job, so each job end moves
//! its saga exactly once.

use crate::saga::model::{SagaState, StepPhase, StepSpec};

/// How the job of the current step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// Discarded after its last attempt.
    Dead,
    /// Cancelled, by the saga's cancel or by hand.
    Cancelled,
}

/// What the saga does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Enqueue the job of this step and phase; the saga is in `state` meanwhile.
    Run { state: SagaState, step: usize, phase: StepPhase },
    /// The saga is over. `failed_step` names the step whose compensation gave out.
    Finish { state: SagaState, failed_step: Option<usize> },
}

/// The next move after the job of `step`/`phase` ended with `outcome`. `cancel_requested` says whether a
/// cancel started (or joined) the compensation, which makes the saga end `cancelled` rather than
/// `compensated`.
pub fn advance(
    steps: &[StepSpec],
    step: usize,
    phase: StepPhase,
    outcome: Outcome,
    cancel_requested: bool,
) -> Transition {
    match (phase, outcome) {
        (StepPhase::Action, Outcome::Completed) if cancel_requested => compensate_from(steps, step + 1, true),
        (StepPhase::Action, Outcome::Completed) if step + 1 < steps.len() => {
            Transition::Run { state: SagaState::Running, step: step + 1, phase: StepPhase::Action }
        }
        (StepPhase::Action, Outcome::Completed) => {
            Transition::Finish { state: SagaState::Completed, failed_step: None }
        }
        // The failed (or cancelled) step did nothing to undo: compensate the steps before it.
        (StepPhase::Action, Outcome::Dead | Outcome::Cancelled) => {
            compensate_from(steps, step, cancel_requested || outcome == Outcome::Cancelled)
        }
        (StepPhase::Compensation, Outcome::Completed) => compensate_from(steps, step, cancel_requested),
        (StepPhase::Compensation, Outcome::Dead | Outcome::Cancelled) => {
            Transition::Finish { state: SagaState::CompensationFailed, failed_step: Some(step) }
        }
    }
}

/// The move a cancel makes on a saga that is not finished, given the step whose action job runs now; a saga
/// already compensating just remembers the cancel and goes on.
pub fn cancel(steps: &[StepSpec], state: SagaState, running_step: usize) -> Option<Transition> {
    match state {
        SagaState::Running => Some(compensate_from(steps, running_step, true)),
        _ => None,
    }
}

/// Compensates, newest first, the completed steps below `below` that have a compensation; steps without one
/// are passed over.
fn compensate_from(steps: &[StepSpec], below: usize, cancelled: bool) -> Transition {
    match (0..below.min(steps.len())).rev().find(|&index| steps[index].compensation.is_some()) {
        Some(step) => Transition::Run { state: SagaState::Compensating, step, phase: StepPhase::Compensation },
        None => Transition::Finish {
            state: if cancelled { SagaState::Cancelled } else { SagaState::Compensated },
            failed_step: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;
    use StepPhase::*;

    fn steps(compensations: &[bool]) -> Vec<StepSpec> {
        compensations
            .iter()
            .enumerate()
            .map(|(i, &has)| StepSpec {
                name: format!("s{i}"),
                service: "svc".into(),
                action: "do".into(),
                compensation: has.then(|| "undo".into()),
                timeout_seconds: 10,
                retry_policy: None,
                input: None,
            })
            .collect()
    }

    fn show(t: Transition) -> String {
        match t {
            Transition::Run { state, step, phase } => format!("{state} run s{step}.{}", phase.as_str()),
            Transition::Finish { state, failed_step: None } => format!("{state}"),
            Transition::Finish { state, failed_step: Some(s) } => format!("{state} at s{s}"),
        }
    }

    #[test]
    fn the_state_machine_reads_as_a_table() {
        let all = steps(&[true, true, true]);
        let gaps = steps(&[true, false, true]);
        type Case<'a> = (&'a [StepSpec], usize, StepPhase, Outcome, bool, &'a str);
        let cases: &[Case] = &[
            (&all, 0, Action, Completed, false, "running run s1.action"),
            (&all, 2, Action, Completed, false, "completed"),
            (&all, 2, Action, Dead, false, "compensating run s1.compensation"),
            (&all, 0, Action, Dead, false, "compensated"),
            (&all, 1, Compensation, Completed, false, "compensating run s0.compensation"),
            (&all, 0, Compensation, Completed, false, "compensated"),
            (&all, 1, Compensation, Dead, false, "compensation_failed at s1"),
            (&gaps, 2, Action, Dead, false, "compensating run s0.compensation"),
            (&gaps, 2, Compensation, Completed, false, "compensating run s0.compensation"),
            // A cancel: the in-flight step's job was cancelled, the earlier steps are undone.
            (&all, 1, Action, Cancelled, true, "compensating run s0.compensation"),
            (&all, 0, Compensation, Completed, true, "cancelled"),
            (&all, 0, Action, Cancelled, true, "cancelled"),
            // The job could not be cancelled in time and completed: it is undone too.
            (&all, 1, Action, Completed, true, "compensating run s1.compensation"),
        ];
        for &(steps, step, phase, outcome, cancel, expected) in cases {
            assert_eq!(show(advance(steps, step, phase, outcome, cancel)), expected, "s{step} {phase:?} {outcome:?}");
        }
        assert_eq!(cancel(&all, SagaState::Running, 2).map(show).as_deref(), Some("compensating run s1.compensation"));
        assert_eq!(cancel(&all, SagaState::Compensating, 2), None);
    }
}
