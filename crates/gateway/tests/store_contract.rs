//! The store's contract, run against both backends: every case of
//! `contract/` once on [`MemoryStore`](gateway::store::memory::MemoryStore)
//! (its test clock, or the real one where time must pass by itself) and
//! once on [`RedisStore`](gateway::store::redis::RedisStore) against its
//! own `redis-server` (see `common/redis_server.rs`). The tests are
//! `memory::<case>` and `redis::<case>`.
//!
//! A case that one backend does not meet yet carries the reason next to
//! its name below.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod contract;

/// Two `#[tokio::test]`s per case: `memory::<case>` on the memory
/// backend made by `Memory::<clock>()`, `redis::<case>` on redis.
macro_rules! contract {
    ($($module:ident :: $case:ident => $clock:ident $(, memory $(#[$attr:meta])+)?;)*) => {
        mod memory {
            use crate::contract::backend::Memory;
            $(
                #[tokio::test]
                $($(#[$attr])+)?
                async fn $case() {
                    crate::contract::$module::$case(&Memory::$clock()).await
                }
            )*
        }
        mod redis {
            use crate::contract::backend::Redis;
            $(
                #[tokio::test]
                async fn $case() {
                    crate::contract::$module::$case(&Redis::start()).await
                }
            )*
        }
    };
}

contract! {
    submit::credit_is_charged_atomically_and_refunded_on_cancel => test_clock;
    submit::throttle_refusal_changes_nothing => test_clock;
    submit::queue_limit_and_taking_in_order => test_clock;
    submit::a_repeated_submit_is_accepted_once => test_clock;
    submit::a_message_without_a_stored_form_is_refused => test_clock;
    replace::a_waiting_message_is_replaced_for_its_owner_only => test_clock;
    replace::a_retrying_message_is_replaced_where_it_waits => test_clock;
    reroute::a_rerouted_message_keeps_its_charge_and_gets_one_receipt_from_its_next_connector => test_clock;
    reroute::a_rerouted_message_is_cancelled_and_replaced_where_it_waits => test_clock;
    connector::sent_maps_upstream_ids_until_their_ttl => test_clock;
    connector::retry_waits_for_its_delay_and_rejoins_the_queue => test_clock;
    connector::fail_is_final_and_refunds_tracked_credit_once => test_clock;
    connector::a_message_in_the_retry_set_can_be_cancelled => test_clock;
    connector::an_unsettled_message_is_handed_out_again => test_clock;
    connector::a_blocking_take_waits_and_wakes_for_a_submit_or_a_retry => real_time;
    connector::a_take_moves_at_most_max_due_retries_earliest_due_first => test_clock;
    connector::a_take_of_none_moves_nothing => test_clock;
    connector::an_absurd_retry_delay_is_never_due => test_clock;
    receipts::a_final_receipt_is_queued_as_registered_delivery_asks => test_clock;
    receipts::a_receipt_without_a_done_date_is_final_now => test_clock;
    receipts::a_receipt_before_its_mapping_is_held_and_applied => test_clock;
    receipts::parts_are_summed_into_one_receipt => test_clock;
    receipts::intermediate_receipts_are_queued_when_asked_for => test_clock;
    receipts::fail_queues_one_final_receipt_when_asked_for => test_clock;
    receipts::parts_come_from_the_first_sent_with_upstream_ids => test_clock;
    deliveries::deliveries_are_taken_settled_and_redelivered_at_the_tail => test_clock;
    deliveries::an_expired_item_is_handed_out_all_the_same => test_clock;
    deliveries::a_blocking_take_of_deliveries_wakes_for_a_deliver => real_time;
    callbacks::receipts_of_a_callback_message_go_to_the_callback_queue => test_clock;
    callbacks::the_upstreams_answer_is_called_back_when_the_level_asks => test_clock;
    callbacks::callbacks_are_taken_done_and_retried_with_attempts => test_clock;
    callbacks::a_dead_consumers_callbacks_are_taken_again => test_clock;
    callbacks::a_blocking_take_of_callbacks_wakes_for_a_queue_or_a_retry => real_time;
    callbacks::an_absurd_callback_retry_delay_is_never_due => test_clock;
    expiry::a_waiting_message_expires_on_time_with_one_receipt => test_clock;
    expiry::a_sent_message_whose_receipts_never_come_ends_in_the_expiry_state => test_clock;
    expiry::a_moved_or_replaced_message_expires_where_and_when_it_waits_now => test_clock;
    expiry::a_message_without_a_validity_period_expires_48_hours_after_acceptance => test_clock;
    expiry::a_dead_takers_message_expires_once_held_for_the_reclaim_time => test_clock;
}
