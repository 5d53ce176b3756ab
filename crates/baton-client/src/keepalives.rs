//! [`LeaseKeepalives`]: many lease keepalives over one WebSocket (`GET /api/v1/leases/keepalive`), each answered
//! in order, as etcd's `LeaseKeepAlive` stream does. A keepalive then costs one small message each way instead of
//! an HTTP request.

use baton_api::lease::{KeepaliveStreamAnswer, KeepaliveStreamRequest, LeaseResponse};
use futures::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{BatonClient, ClientError};

/// The read buffer of the stream's socket: an answer is a lease of a few hundred bytes.
const ANSWER_BUFFER_BYTES: usize = 4096;

/// An open keepalive stream. One keepalive at a time; open one stream per task that keeps leases alive.
pub struct LeaseKeepalives {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

fn broken(error: impl std::fmt::Display) -> ClientError {
    ClientError::Stream(format!("the keepalive stream: {error}"))
}

impl BatonClient {
    /// Opens a keepalive stream to the server (plain `http://` servers only: the SDK's WebSocket has no TLS).
    pub async fn lease_keepalives(&self) -> Result<LeaseKeepalives, ClientError> {
        let mut url = self.base_url.clone();
        if url.scheme() != "http" {
            return Err(ClientError::InvalidRequest(format!(
                "the keepalive stream needs an http:// server URL, not {}: use keepalive_lease over TLS",
                url.scheme()
            )));
        }
        url.set_scheme("ws").map_err(|()| ClientError::InvalidUrl(url.to_string()))?;
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1", "leases", "keepalive"]);
        }
        let mut request = url.as_str().into_client_request().map_err(broken)?;
        if let Some(namespace) = &self.namespace {
            let value = HeaderValue::from_str(namespace)
                .map_err(|_| ClientError::InvalidRequest(format!("not a header value: {namespace:?}")))?;
            request.headers_mut().insert("x-baton-namespace", value);
        }
        // Answers are small, and the socket zeroes its whole read buffer on every read (128 KiB by default).
        let config = WebSocketConfig::default().read_buffer_size(ANSWER_BUFFER_BYTES);
        // Nagle off: a keepalive is one small message that waits for its answer.
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await.map_err(broken)?;
        Ok(LeaseKeepalives { socket })
    }
}

impl LeaseKeepalives {
    /// Extends the lease by its TTL; a refusal (`LEASE_NOT_FOUND`, …) is [`ClientError::Api`] with status 0, and
    /// the stream stays usable.
    pub async fn keepalive(&mut self, lease_id: &str) -> Result<LeaseResponse, ClientError> {
        let request = KeepaliveStreamRequest { lease_id: lease_id.to_owned() };
        let text = serde_json::to_string(&request).map_err(broken)?;
        self.socket.send(Message::text(text)).await.map_err(broken)?;
        loop {
            let text = match self.socket.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => return Err(broken("the server sent a binary message")),
                Some(Ok(Message::Close(_))) | None => return Err(broken("the server closed it")),
                Some(Err(error)) => return Err(broken(error)),
            };
            let answer: KeepaliveStreamAnswer =
                serde_json::from_str(&text).map_err(|_| broken(format!("not an answer: {text}")))?;
            return match (answer.lease, answer.error) {
                (Some(lease), None) => Ok(lease),
                (_, Some(error)) => Err(ClientError::Api {
                    status: 0,
                    code: error.code,
                    message: error.message,
                    details: error.details,
                }),
                (None, None) => Err(broken(format!("an answer with neither a lease nor an error: {text}"))),
            };
        }
    }

    /// Closes the stream cleanly.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.socket.close(None).await.map_err(broken)
    }
}
