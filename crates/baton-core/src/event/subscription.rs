//! Subscriptions: a stream of events that catches up from a position (or version), then goes live.
//!
//! There is no separate live path. A subscription always reads the store from its own checkpoint, in pages; when
//! a page comes back short it has caught up, and it sleeps until the change feed says its stream (or log) grew,
//! then reads again from the same checkpoint. So the switch from history to live can neither skip nor repeat an
//! event, and a slow subscriber is never dropped: while its client is not reading, nothing is buffered for it,
//! and when it reads again it simply catches up from where it stopped.

use std::collections::VecDeque;
use std::time::Duration;

use futures::Stream;

use crate::error::Error;
use crate::event::model::{Direction, LogFilter, ReadAllParams, ReadStreamParams, RecordedEvent};
use crate::event::service::{EventService, check_in_range};
use crate::namespace::Namespace;
use crate::streaming::StreamSlot;
use crate::wakeups::Watch;

/// How long a caught-up subscription sleeps without a wake-up before it looks again: the bounded safety net
/// behind push wake-ups (a lost notification costs at most this much delay).
const SAFETY_NET: Duration = Duration::from_secs(1);
/// Events read per page while catching up.
const PAGE: u32 = 500;

/// What a subscription follows.
#[derive(Clone, Debug)]
pub enum SubscriptionTarget {
    /// One stream, by version.
    Stream(String),
    /// The namespace's whole log, by position, through a filter.
    All(LogFilter),
}

#[derive(Clone, Debug)]
pub struct SubscribeRequest {
    pub namespace: Namespace,
    pub target: SubscriptionTarget,
    /// The first version (stream) or position (log) to deliver; `None` delivers only what is appended from now on.
    pub from: Option<i64>,
}

#[derive(Clone, Debug)]
pub enum SubscriptionItem {
    Event(RecordedEvent),
    /// Everything up to now has been delivered; what follows is live. Sent once.
    CaughtUp,
}

enum Waker {
    Log(Watch<Namespace>),
    Stream(Watch<(Namespace, String)>),
}

impl Waker {
    fn notify(&self) -> &tokio::sync::Notify {
        match self {
            Self::Log(watch) => &watch.notify,
            Self::Stream(watch) => &watch.notify,
        }
    }
}

struct Subscription {
    service: EventService,
    namespace: Namespace,
    target: SubscriptionTarget,
    /// The next version or position to deliver.
    next: i64,
    buffer: VecDeque<RecordedEvent>,
    caught_up: bool,
    /// An error was delivered: the stream ends, and the client resumes from its last event.
    failed: bool,
    waker: Waker,
    _slot: StreamSlot,
}

impl EventService {
    /// Starts a subscription. It counts against the node's subscription limit until it is dropped.
    pub async fn subscribe(
        &self,
        request: SubscribeRequest,
    ) -> Result<impl Stream<Item = Result<SubscriptionItem, Error>> + Send + use<>, Error> {
        let slot = self.slots.take()?;
        let waker = match &request.target {
            SubscriptionTarget::Stream(stream) => {
                self.check_stream(stream)?;
                Waker::Stream(self.stream_wakeups.watch((request.namespace.clone(), stream.clone())))
            }
            SubscriptionTarget::All(_) => Waker::Log(self.log_wakeups.watch(request.namespace.clone())),
        };
        if request.from.is_some_and(|from| from < 0) {
            return Err(Error::invalid(
                crate::error::ErrorCode::InvalidArgument,
                "a subscription starts at 0 or later",
            ));
        }
        // A start past the end would wait there and skip, unseen, everything appended before it.
        let next = match request.from {
            Some(from) => {
                match &request.target {
                    SubscriptionTarget::All(_) => check_in_range(Some(from), self.head(&request.namespace).await?)?,
                    SubscriptionTarget::Stream(stream) => {
                        let end = self.end_of(&request.namespace, &request.target).await?;
                        if from > end + 1 {
                            return Err(Error::invalid(
                                crate::error::ErrorCode::PositionOutOfRange,
                                format!("version {from} is past the end of stream '{stream}' (version {end})"),
                            ));
                        }
                    }
                }
                from
            }
            None => self.end_of(&request.namespace, &request.target).await? + 1,
        };
        let subscription = Subscription {
            service: self.clone(),
            namespace: request.namespace,
            target: request.target,
            next,
            buffer: VecDeque::new(),
            caught_up: false,
            failed: false,
            waker,
            _slot: slot,
        };
        metrics::gauge!("baton_event_subscriptions").increment(1.0);
        Ok(futures::stream::unfold(subscription, |mut subscription| async move {
            if subscription.failed {
                return None;
            }
            let item = subscription.next_item().await;
            subscription.failed = item.is_err();
            Some((item, subscription))
        }))
    }

    async fn head(&self, namespace: &Namespace) -> Result<i64, Error> {
        let params = ReadAllParams {
            namespace: namespace.clone(),
            from_position: None,
            direction: Direction::Backward,
            limit: 1,
            filter: LogFilter::default(),
        };
        Ok(self.store().read_all(params).await?.head)
    }

    /// The last version (stream) or position (log) there is now.
    async fn end_of(&self, namespace: &Namespace, target: &SubscriptionTarget) -> Result<i64, Error> {
        match target {
            SubscriptionTarget::All(_) => self.head(namespace).await,
            SubscriptionTarget::Stream(stream) => {
                let params = ReadStreamParams {
                    namespace: namespace.clone(),
                    stream: stream.clone(),
                    from_version: None,
                    direction: Direction::Backward,
                    limit: 1,
                };
                Ok(self.store().read_stream(params).await?.map_or(-1, |slice| slice.stream.last_version))
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        metrics::gauge!("baton_event_subscriptions").decrement(1.0);
    }
}

impl Subscription {
    async fn next_item(&mut self) -> Result<SubscriptionItem, Error> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(SubscriptionItem::Event(event));
            }
            let notify = self.waker.notify();
            let woken = notify.notified();
            tokio::pin!(woken);
            // Enabled before the read, so an append committed right after the read still wakes us.
            woken.as_mut().enable();
            let (events, caught_up, next) = read_page(&self.service, &self.namespace, &self.target, self.next).await?;
            self.next = next;
            if !events.is_empty() {
                self.buffer.extend(events);
                continue;
            }
            if caught_up && !self.caught_up {
                self.caught_up = true;
                return Ok(SubscriptionItem::CaughtUp);
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(SAFETY_NET) => {}
            }
        }
    }
}

/// Reads the page at `next`: its events, whether the read reached the end, and where the next read starts.
async fn read_page(
    service: &EventService,
    namespace: &Namespace,
    target: &SubscriptionTarget,
    next: i64,
) -> Result<(Vec<RecordedEvent>, bool, i64), Error> {
    match target {
        SubscriptionTarget::Stream(stream) => {
            let params = ReadStreamParams {
                namespace: namespace.clone(),
                stream: stream.clone(),
                from_version: Some(next),
                direction: Direction::Forward,
                limit: PAGE,
            };
            let events = service.store().read_stream(params).await?.map(|slice| slice.events).unwrap_or_default();
            // Truncation may have removed versions below the first readable one: skip past them.
            let next = events.last().map_or(next, |last| last.version + 1);
            let caught_up = events.len() < PAGE as usize;
            Ok((events, caught_up, next))
        }
        SubscriptionTarget::All(filter) => {
            let params = ReadAllParams {
                namespace: namespace.clone(),
                from_position: Some(next),
                direction: Direction::Forward,
                limit: PAGE,
                filter: filter.clone(),
            };
            let slice = service.store().read_all(params).await?;
            let caught_up = slice.events.len() < PAGE as usize;
            let mut next = slice.events.last().map_or(next, |last| last.global_position + 1);
            if caught_up {
                // A short page considered every event up to the head (read before the events): a filtered
                // subscription need not scan those again.
                next = next.max(slice.head + 1);
            }
            Ok((slice.events, caught_up, next))
        }
    }
}
