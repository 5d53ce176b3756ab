//! The event store through the REST API: append, read, inspect streams, subscribe (Server-Sent Events), and
//! consumer groups.

use std::time::Duration;

use baton_api::event::{
    AppendRequest, AppendResponse, CommitRequest, EventBody, EventView, GroupEvents, GroupList, GroupView,
    JoinGroupRequest, LogEvents, MemberRequest, MembershipResponse, StreamEvents, StreamInfo, StreamList,
    StreamSettingsRequest,
};
use eventsource_stream::Eventsource as _;
use futures::{Stream, StreamExt as _};
use reqwest::Method;
use serde_json::Value;

use crate::{BatonClient, ClientError};

/// Headroom on top of a server-side wait, so the HTTP timeout never fires first.
const WAIT_HEADROOM: Duration = Duration::from_secs(30);

/// Where to read a stream from, and how far.
#[derive(Clone, Debug, Default)]
pub struct ReadStream {
    pub from_version: Option<i64>,
    pub limit: Option<u32>,
    pub backward: bool,
}

/// Where to read the log (`$all`) from, and through which filters.
#[derive(Clone, Debug, Default)]
pub struct ReadAll {
    pub from_position: Option<i64>,
    pub limit: Option<u32>,
    pub backward: bool,
    pub event_type: Option<String>,
    pub stream_prefix: Option<String>,
}

/// What a subscription starts from and follows. `stream` is a stream name or `$all`.
#[derive(Clone, Debug, Default)]
pub struct Subscribe {
    pub stream: String,
    /// The first version (a stream) or position (`$all`) to deliver; `None`: only new events.
    pub from: Option<i64>,
    pub event_type: Option<String>,
    pub stream_prefix: Option<String>,
}

/// What a subscription delivers.
#[derive(Clone, Debug)]
pub enum SubscriptionEvent {
    Event(EventView),
    /// Everything up to now was delivered; what follows is live.
    CaughtUp,
}

/// A member's read of its share.
#[derive(Clone, Debug)]
pub struct ReadGroup {
    pub member_id: String,
    pub generation: Option<i64>,
    pub after_position: Option<i64>,
    pub limit: Option<u32>,
    pub wait: Option<Duration>,
}

impl BatonClient {
    /// Appends `events` atomically at the end of `stream`. `expected_version` is `"any"`, `"no_stream"`,
    /// `"exists"` or a version number; `None` means any.
    pub async fn append_events(
        &self,
        stream: &str,
        events: Vec<EventBody>,
        expected_version: Option<Value>,
    ) -> Result<AppendResponse, ClientError> {
        let body = AppendRequest { events: Some(events), expected_version, ..AppendRequest::default() };
        self.send(self.request(Method::POST, &["api", "v1", "events", stream]).json(&body)).await
    }

    pub async fn read_stream(&self, stream: &str, read: &ReadStream) -> Result<StreamEvents, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(read.from_version.map(|v| ("from_version", v.to_string())));
        query.extend(read.limit.map(|v| ("limit", v.to_string())));
        if read.backward {
            query.push(("direction", "backward".into()));
        }
        self.send(self.request(Method::GET, &["api", "v1", "events", stream]).query(&query)).await
    }

    pub async fn read_all(&self, read: &ReadAll) -> Result<LogEvents, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(read.from_position.map(|v| ("from_position", v.to_string())));
        query.extend(read.limit.map(|v| ("limit", v.to_string())));
        query.extend(read.event_type.clone().map(|v| ("event_type", v)));
        query.extend(read.stream_prefix.clone().map(|v| ("stream_prefix", v)));
        if read.backward {
            query.push(("direction", "backward".into()));
        }
        self.send(self.request(Method::GET, &["api", "v1", "events"]).query(&query)).await
    }

    pub async fn stream_info(&self, stream: &str) -> Result<StreamInfo, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "streams", stream])).await
    }

    pub async fn list_streams(
        &self,
        prefix: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<StreamList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(prefix.map(|v| ("prefix", v.to_owned())));
        query.extend(cursor.map(|v| ("cursor", v.to_owned())));
        query.extend(limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "streams"]).query(&query)).await
    }

    pub async fn set_stream_settings(
        &self,
        stream: &str,
        settings: &StreamSettingsRequest,
    ) -> Result<StreamInfo, ClientError> {
        self.send(self.request(Method::PUT, &["api", "v1", "streams", stream, "metadata"]).json(settings)).await
    }

    pub async fn delete_stream(&self, stream: &str) -> Result<StreamInfo, ClientError> {
        self.send(self.request(Method::DELETE, &["api", "v1", "streams", stream])).await
    }

    /// Subscribes over Server-Sent Events. The stream ends when the server ends it (an error comes first).
    pub async fn subscribe(
        &self,
        subscribe: &Subscribe,
    ) -> Result<impl Stream<Item = Result<SubscriptionEvent, ClientError>> + Send + use<>, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        let from = if subscribe.stream == "$all" { "from_position" } else { "from_version" };
        query.extend(subscribe.from.map(|v| (from, v.to_string())));
        query.extend(subscribe.event_type.clone().map(|v| ("event_type", v)));
        query.extend(subscribe.stream_prefix.clone().map(|v| ("stream_prefix", v)));
        let builder = self
            .request(Method::GET, &["api", "v1", "events", &subscribe.stream, "subscribe"])
            .header("accept", "text/event-stream")
            .query(&query);
        let response = self.open(builder).await?;
        Ok(response.bytes_stream().eventsource().filter_map(|item| async move {
            match item {
                Err(error) => Some(Err(ClientError::Stream(error.to_string()))),
                Ok(event) => match event.event.as_str() {
                    "message" => Some(
                        serde_json::from_str(&event.data)
                            .map(SubscriptionEvent::Event)
                            .map_err(|_| ClientError::Stream(format!("not an event: {}", event.data))),
                    ),
                    "caught_up" => Some(Ok(SubscriptionEvent::CaughtUp)),
                    "error" => Some(Err(match serde_json::from_str::<baton_api::error::ErrorDetail>(&event.data) {
                        Ok(detail) => ClientError::Api {
                            status: 0,
                            code: detail.code,
                            message: detail.message,
                            details: detail.details,
                        },
                        Err(_) => ClientError::Stream(event.data),
                    })),
                    _ => None,
                },
            }
        }))
    }

    /// Joins a consumer group (creating it with the request's settings on first use).
    pub async fn join_group(&self, group: &str, request: &JoinGroupRequest) -> Result<MembershipResponse, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "groups", group, "join"]).json(request)).await
    }

    pub async fn heartbeat_group(&self, group: &str, member_id: &str) -> Result<MembershipResponse, ClientError> {
        let body = MemberRequest { member_id: member_id.to_owned(), namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "groups", group, "heartbeat"]).json(&body)).await
    }

    pub async fn leave_group(&self, group: &str, member_id: &str) -> Result<(), ClientError> {
        let body = MemberRequest { member_id: member_id.to_owned(), namespace: None };
        let _: Value =
            self.send(self.request(Method::POST, &["api", "v1", "groups", group, "leave"]).json(&body)).await?;
        Ok(())
    }

    /// The member's share after its checkpoints, long-polling up to `read.wait`.
    pub async fn read_group(&self, group: &str, read: &ReadGroup) -> Result<GroupEvents, ClientError> {
        let mut query: Vec<(&str, String)> = vec![("member_id", read.member_id.clone())];
        query.extend(read.generation.map(|v| ("generation", v.to_string())));
        query.extend(read.after_position.map(|v| ("after_position", v.to_string())));
        query.extend(read.limit.map(|v| ("limit", v.to_string())));
        query.extend(read.wait.map(|wait| ("wait_ms", wait.as_millis().to_string())));
        let timeout = read.wait.unwrap_or_default() + WAIT_HEADROOM;
        let builder = self.request(Method::GET, &["api", "v1", "groups", group, "events"]).query(&query);
        self.send(builder.timeout(timeout)).await
    }

    pub async fn commit_group(
        &self,
        group: &str,
        member_id: &str,
        generation: i64,
        position: i64,
    ) -> Result<MembershipResponse, ClientError> {
        let body = CommitRequest { member_id: member_id.to_owned(), generation, position, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "groups", group, "commit"]).json(&body)).await
    }

    pub async fn get_group(&self, group: &str) -> Result<GroupView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "groups", group])).await
    }

    /// Groups by name, a page at a time: pass the previous page's `next_cursor` as `cursor`.
    pub async fn list_groups(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<GroupList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(cursor.map(|v| ("cursor", v.to_owned())));
        query.extend(limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "groups"]).query(&query)).await
    }

    pub async fn delete_group(&self, group: &str) -> Result<(), ClientError> {
        let _: Value = self.send(self.request(Method::DELETE, &["api", "v1", "groups", group])).await?;
        Ok(())
    }
}

/// An event body from its parts; `data` and `metadata` are JSON values.
pub fn event_body(event_type: &str, data: &Value, metadata: Option<&Value>) -> EventBody {
    let raw = |value: &Value| serde_json::value::to_raw_value(value).expect("a JSON value serialises");
    EventBody { event_type: event_type.to_owned(), data: raw(data), metadata: metadata.map(raw), event_id: None }
}
