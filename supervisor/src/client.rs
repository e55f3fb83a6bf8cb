//! The client side of the control socket, used by the CLI, the tests and the benchmark.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::protocol::{EventRecord, Reply, Request};

/// A failed request to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon accepts connections on the socket.
    #[error(
        "cannot reach the picluster daemon at {path}: {source}; is it running? \
         Pass --socket or set PICLUSTER_SOCKET to its socket"
    )]
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// The connection broke or the daemon sent something that is not a reply.
    #[error("the connection to the daemon at {path} failed: {message}")]
    Broken {
        /// The socket path.
        path: PathBuf,
        /// The failure.
        message: String,
    },
}

/// One connection to the daemon; the replies to its requests come in order.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: String,
}

impl Client {
    /// Connects to the daemon's socket.
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream =
            UnixStream::connect(path)
                .await
                .map_err(|source| ClientError::Unreachable {
                    path: path.to_path_buf(),
                    source,
                })?;
        let (reader, writer) = stream.into_split();
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::new(reader),
            writer,
            line: String::new(),
        })
    }

    /// Sends one request and reads its reply.
    pub async fn request(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let mut line = serde_json::to_vec(request).map_err(|error| self.broken(error))?;
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .await
            .map_err(|error| self.broken(error))?;
        self.read_reply().await
    }

    /// Reads the next reply line.
    async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        self.line.clear();
        let read = self
            .reader
            .read_line(&mut self.line)
            .await
            .map_err(|error| self.broken(error))?;
        if read == 0 {
            return Err(self.broken("the daemon closed the connection"));
        }
        serde_json::from_str(&self.line).map_err(|error| self.broken(error))
    }

    /// Turns the connection into a subscription to every event from now on.
    pub async fn subscribe(mut self) -> Result<Subscription, ClientError> {
        match self.request(&Request::Subscribe {}).await? {
            Reply::Subscribed => Ok(Subscription { client: self }),
            other => Err(self.broken(format!("unexpected reply to subscribe: {other:?}"))),
        }
    }

    fn broken(&self, message: impl ToString) -> ClientError {
        ClientError::Broken {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }
}

/// A connection that receives every committed event.
#[derive(Debug)]
pub struct Subscription {
    client: Client,
}

impl Subscription {
    /// Waits for the next event. A notice that events were missed is returned as an error
    /// message in `Ok(Err(..))`, so the caller can report it and go on.
    pub async fn next(&mut self) -> Result<Result<EventRecord, String>, ClientError> {
        match self.client.read_reply().await? {
            Reply::Event(record) => Ok(Ok(record)),
            Reply::Error { message, .. } => Ok(Err(message)),
            other => Err(self
                .client
                .broken(format!("unexpected line on a subscription: {other:?}"))),
        }
    }
}
