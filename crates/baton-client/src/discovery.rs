//! Service discovery through the REST API: registration, heartbeats, listings, blocking queries on the modify
//! index, SSE watches, and [`Registration`], a TTL instance that heartbeats itself in the background.

use std::time::Duration;

use baton_api::discovery::{InstanceView, RegisterInstanceRequest, ServiceInstancesView, ServiceList};
use eventsource_stream::Eventsource as _;
use futures::{Stream, StreamExt as _};
use reqwest::Method;
use tokio_util::sync::WaitForCancellationFuture;

use crate::keeper::{Kept, keep_alive};
use crate::{BatonClient, ClientError};

/// Headroom on top of a blocking query's wait, so the HTTP timeout never fires first.
const WAIT_HEADROOM: Duration = Duration::from_secs(30);

/// Filters for [`BatonClient::service_instances`] and friends.
#[derive(Clone, Debug, Default)]
pub struct InstanceQuery {
    /// Only instances passing now.
    pub healthy: bool,
    /// Only instances carrying every one of these tags.
    pub tags: Vec<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl InstanceQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if self.healthy {
            query.push(("healthy", "true".into()));
        }
        query.extend(self.tags.iter().map(|tag| ("tag", tag.clone())));
        query.extend(self.cursor.clone().map(|v| ("cursor", v)));
        query.extend(self.limit.map(|v| ("limit", v.to_string())));
        query
    }
}

impl BatonClient {
    /// Registers an instance, or updates the one with this id.
    pub async fn register_instance(
        &self,
        service: &str,
        instance_id: &str,
        request: &RegisterInstanceRequest,
    ) -> Result<InstanceView, ClientError> {
        let builder = self.request(Method::PUT, &["api", "v1", "services", service, "instances", instance_id]);
        self.send(builder.json(request)).await
    }

    pub async fn heartbeat_instance(&self, service: &str, instance_id: &str) -> Result<InstanceView, ClientError> {
        let segments = ["api", "v1", "services", service, "instances", instance_id, "heartbeat"];
        self.send(self.request(Method::POST, &segments)).await
    }

    pub async fn deregister_instance(&self, service: &str, instance_id: &str) -> Result<InstanceView, ClientError> {
        self.send(self.request(Method::DELETE, &["api", "v1", "services", service, "instances", instance_id])).await
    }

    pub async fn instance(&self, service: &str, instance_id: &str) -> Result<InstanceView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "services", service, "instances", instance_id])).await
    }

    /// Services with instances, with their counts by health.
    pub async fn list_services(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<ServiceList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(cursor.map(|v| ("cursor", v.to_owned())));
        query.extend(limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "services"]).query(&query)).await
    }

    pub async fn service_instances(
        &self,
        service: &str,
        query: &InstanceQuery,
    ) -> Result<ServiceInstancesView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "services", service]).query(&query.pairs())).await
    }

    /// A blocking query: answers once the service's index differs from `index`, or after `wait` (the server cuts
    /// it to five minutes) with the same index.
    pub async fn wait_for_instances(
        &self,
        service: &str,
        query: &InstanceQuery,
        index: i64,
        wait: Duration,
    ) -> Result<ServiceInstancesView, ClientError> {
        let mut pairs = query.pairs();
        pairs.push(("index", index.to_string()));
        pairs.push(("wait", format!("{}ms", wait.as_millis())));
        let builder = self.request(Method::GET, &["api", "v1", "services", service]).query(&pairs);
        self.send(builder.timeout(wait + WAIT_HEADROOM)).await
    }

    /// The service's instances now, then at every change (Server-Sent Events).
    pub async fn watch_service(
        &self,
        service: &str,
        query: &InstanceQuery,
    ) -> Result<impl Stream<Item = Result<ServiceInstancesView, ClientError>> + Send + use<>, ClientError> {
        let pairs: Vec<_> =
            query.pairs().into_iter().filter(|(name, _)| *name == "healthy" || *name == "tag").collect();
        let builder = self.request(Method::GET, &["api", "v1", "services", service, "watch"]).query(&pairs);
        let response = self.open(builder.header("accept", "text/event-stream")).await?;
        Ok(response.bytes_stream().eventsource().filter_map(|event| async move {
            match event {
                Err(error) => Some(Err(ClientError::Stream(error.to_string()))),
                Ok(event) if event.event == "message" => Some(
                    serde_json::from_str(&event.data)
                        .map_err(|_| ClientError::Stream(format!("not a service's instances: {}", event.data))),
                ),
                Ok(event) if event.event == "error" => Some(Err(ClientError::Stream(event.data))),
                Ok(_) => None,
            }
        }))
    }

    /// Registers a TTL instance and heartbeats it every third of its TTL until the guard is deregistered or
    /// dropped (which deregisters it).
    pub async fn register_and_keep(
        &self,
        service: &str,
        instance_id: &str,
        request: &RegisterInstanceRequest,
    ) -> Result<Registration, ClientError> {
        let Some(ttl_seconds) = request.ttl_seconds else {
            return Err(ClientError::InvalidRequest("register_and_keep needs a TTL instance (ttl_seconds)".into()));
        };
        let requested_at = tokio::time::Instant::now();
        let instance = self.register_instance(service, instance_id, request).await?;
        let heartbeat = {
            let (client, instance) = (self.clone(), instance.clone());
            move || {
                let (client, instance) = (client.clone(), instance.clone());
                async move { client.heartbeat_instance(&instance.service, &instance.instance_id).await.map(|_| ()) }
            }
        };
        let ttl = Duration::from_secs(ttl_seconds.max(1) as u64);
        let kept = keep_alive(ttl, requested_at, format!("instance {instance_id} of {service}"), heartbeat);
        Ok(Registration { client: self.clone(), instance, kept, deregistered: false })
    }
}

/// A registered TTL instance that heartbeats itself; it deregisters when dropped.
pub struct Registration {
    client: BatonClient,
    instance: InstanceView,
    kept: Kept,
    deregistered: bool,
}

impl Registration {
    pub fn instance(&self) -> &InstanceView {
        &self.instance
    }

    /// Completes when a heartbeat is refused (the instance was deregistered), or none succeeded in time.
    pub fn lost(&self) -> WaitForCancellationFuture<'_> {
        self.kept.lost.cancelled()
    }

    pub async fn deregister(mut self) -> Result<InstanceView, ClientError> {
        self.deregistered = true;
        self.kept.stop.cancel();
        self.client.deregister_instance(&self.instance.service, &self.instance.instance_id).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.kept.stop.cancel();
        if self.deregistered {
            return;
        }
        let (client, instance) = (self.client.clone(), self.instance.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.deregister_instance(&instance.service, &instance.instance_id).await;
            });
        }
    }
}
