//! One behavioural suite for every store backend. Each case is written once in [`cases`] against the store
//! port and runs on SQLite and on PostgreSQL (a fresh schema per case) through [`conformance_suite!`].
//!
//! It deliberately tests only the store port; HTTP behaviour is tested end to end in `crates/baton`.

pub mod cache_cases;
pub mod cases;
pub mod claim_cases;
pub mod discovery_cases;
pub mod event_cases;
pub mod group_cases;
pub mod harness;
pub mod job_cases;
pub mod saga_cases;
pub mod workflow_cases;

/// Expands to one `#[tokio::test]` per case, each on a fresh store from `$harness` (an `async fn` returning
/// `Option<Harness>`; `None` means the backend is not reachable outside CI).
#[macro_export]
macro_rules! conformance_suite {
    ($harness:path) => {
        $crate::conformance_suite!(@cases $harness;
            grants_a_free_lock_and_reports_the_holder,
            fencing_tokens_increase_across_release_and_expiry,
            a_lapsed_holder_frees_the_lock,
            release_is_refused_for_unknown_ids_and_other_owners,
            renew_extends_a_live_lock_and_refuses_a_lapsed_one,
            permits_make_a_semaphore,
            waiters_are_granted_in_fifo_order_on_release,
            a_waiter_whose_deadline_passes_is_gone,
            cancel_wait_returns_a_grant_that_came_meanwhile,
            expiry_pass_hands_a_lapsed_lock_to_the_next_waiter,
            an_expiry_pass_settles_the_longest_lapsed_keys_first,
            an_expiry_pass_purges_lapsed_holders_nobody_waits_for_together,
            lease_bound_locks_live_and_die_with_their_lease,
            a_lease_kept_alive_again_and_again_keeps_its_locks_and_shows_its_newest_expiry,
            keepalives_sent_together_each_get_their_own_answer,
            revoking_a_lease_releases_its_locks_and_wakes_waiters,
            unknown_and_lapsed_leases_are_refused,
            list_filters_by_owner_and_prefix_and_pages,
            status_counts_live_waiters,
            namespaces_isolate_keys,
            change_feed_reports_granted_waiters,
            waiter_limit_is_enforced,
            concurrent_acquires_never_exceed_permits,
            jobs_are_fetched_best_priority_first_with_increasing_tokens,
            fetches_can_take_only_some_types,
            delayed_jobs_wait_for_their_time,
            only_the_current_lease_token_completes_a_job,
            failed_attempts_back_off_then_go_dead_and_can_be_redriven,
            a_lapsed_lease_returns_the_job_and_refuses_the_late_ack,
            heartbeats_extend_the_lease_and_record_progress,
            a_timeout_fails_the_running_attempt,
            the_job_reaper_ends_each_lapse_once_and_knows_the_next_one,
            unique_keys_answer_with_the_existing_job,
            cancel_stops_waiting_jobs_and_flags_running_ones,
            paused_queues_and_global_concurrency_limit_fetches,
            rate_limits_count_starts_per_period,
            concurrency_keys_limit_running_jobs_per_key,
            a_fetch_can_complete_the_previous_jobs_in_the_same_transaction,
            an_enqueue_can_take_its_job_for_a_poll_in_the_same_transaction,
            a_released_job_is_available_at_once_without_counting_the_attempt,
            a_released_job_leaves_the_rate_window_it_was_counted_in,
            batch_acks_report_each_item,
            jobs_list_by_filter_and_queues_count_by_state,
            finished_jobs_are_pruned_after_retention,
            concurrent_fetches_never_share_a_job,
            change_feed_announces_available_and_finished_jobs,
            a_retrying_job_is_announced_as_available_again,
            schedules_fire_once_per_tick,
            schedules_skip_overlaps_pause_and_trigger,
            appends_get_stream_versions_and_gapless_positions,
            an_append_batch_too_big_for_one_statement_is_written_whole,
            expected_versions_are_checked_before_anything_is_written,
            resending_events_with_the_same_ids_writes_nothing,
            one_refused_append_in_a_batch_never_fails_the_others,
            streams_read_forward_and_backward_in_pages,
            max_count_keeps_the_newest_events_and_the_rest_are_pruned,
            max_age_hides_old_events_and_the_pruner_removes_them,
            a_deleted_stream_is_gone_until_an_append_revives_it,
            the_log_reads_through_type_prefix_and_hash_filters,
            streams_list_by_name_without_deleted_ones,
            change_feed_announces_appends,
            competing_appenders_win_each_version_exactly_once,
            a_reader_following_concurrent_appenders_sees_each_event_once_in_order,
            members_split_the_partitions_and_every_change_is_a_new_generation,
            checkpoints_move_forward_only_under_the_current_generation,
            lapsed_members_are_removed_and_their_partitions_reassigned,
            a_group_keeps_its_settings_and_can_start_at_the_end,
            groups_list_by_name_a_page_at_a_time,
            a_claim_is_held_then_done_for_good,
            a_discarded_or_lapsed_claim_is_granted_again_with_a_higher_token,
            next_claims_the_first_candidate_neither_held_nor_done,
            concurrent_next_claims_never_share_a_resource,
            claims_list_held_and_done_by_resource,
            leadership_is_won_proclaimed_resigned_and_handed_on,
            a_lapsed_leader_hands_leadership_to_the_next_candidate,
            cache_entries_are_read_replaced_deleted_and_expire,
            an_invalidated_tag_is_never_read_again,
            bulk_reads_answer_in_order_and_usage_counts_live_entries,
            a_key_named_twice_in_one_call_is_written_last_wins_and_found_twice,
            the_cache_stays_within_its_bounds,
            instances_register_update_and_deregister_moving_the_index,
            a_lapsed_ttl_is_critical_at_once_and_announced_by_the_sweep,
            instances_critical_too_long_are_deregistered,
            checks_start_critical_and_follow_their_results,
            instances_filter_by_health_and_tags_and_page,
            services_list_with_counts_by_health,
            a_registration_on_one_node_is_announced_on_every_node,
            a_saga_runs_its_steps_as_jobs_and_completes_with_their_outputs,
            a_dead_saga_step_is_retried_on_its_policy_then_compensates_in_reverse,
            a_compensation_that_gives_out_fails_the_saga_naming_the_step,
            cancel_compensates_and_a_late_completion_does_not_advance_the_saga,
            an_idempotency_key_starts_one_saga,
            a_workflow_id_starts_one_run_and_its_checkpoints_are_written_once,
            a_lapsed_run_is_taken_again_and_the_stale_executor_is_refused,
            messages_are_received_once_and_effects_happen_once,
            a_checkpoint_whose_effect_fails_records_nothing,
            cancel_resume_and_fork_follow_the_run,
            a_cancel_passes_on_to_running_children_and_grandchildren,
            a_timed_out_workflow_is_cancelled_at_its_next_checkpoint,
            a_start_can_take_its_run_for_an_executor_in_the_same_transaction,
            completing_a_run_answers_the_workflow_it_ended
        );
    };
    (@cases $harness:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(harness) = $harness().await else { return };
                $crate::cases::$case(&harness).await;
                harness.cleanup().await;
            }
        )*
    };
}
