//! The control socket: a Unix socket carrying one JSON request and one JSON reply per line.
//!
//! The socket file gets mode 0660 and, if configured, a group, so only root and that group's
//! members can talk to the daemon. Every mutating request is logged with the peer's user and
//! process id as the kernel reports them (`SO_PEERCRED`). A live socket at the configured path
//! means another daemon runs: start-up fails with a message saying so. A socket file that
//! refuses connections is stale (a daemon that was killed) and is replaced.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::protocol::{ErrorCode, EventRecord, Reply, Request};
use crate::store::{JournalFilter, read_journal};

/// Mode of the socket file: read and write for the owner and the group, nothing for others.
pub const SOCKET_MODE: u32 = 0o660;

/// Maximum request line length, in bytes; a real request is under 200.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

/// A failure to set up the control socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another daemon accepts connections on the socket.
    #[error(
        "another picluster daemon is already running on {path}; stop it first \
         (systemctl stop picluster) or give this one another socket_path in [daemon]"
    )]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket's folder, file, mode or group could not be set up.
    #[error("control socket {path}: {action} failed: {source}")]
    Setup {
        /// The socket path.
        path: PathBuf,
        /// The step that failed.
        action: &'static str,
        /// The failure.
        source: io::Error,
    },
    /// The configured group does not exist.
    #[error(
        "control socket group {group:?} does not exist; create it or change socket_group in [daemon]"
    )]
    NoSuchGroup {
        /// The group name.
        group: String,
    },
}

/// The bound socket and its path.
#[derive(Debug)]
pub struct ControlSocket {
    /// The listener.
    pub listener: UnixListener,
    /// The socket file's path, removed again when the daemon stops.
    pub path: PathBuf,
}

impl ControlSocket {
    /// Binds the socket at `path`, replacing a stale socket file, and sets its mode and group.
    pub fn bind(path: &Path, group: Option<&str>) -> Result<Self, SocketError> {
        let setup = |action| {
            move |source| SocketError::Setup {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        let folder = crate::store::parent_of(path);
        std::fs::create_dir_all(folder).map_err(setup("creating its folder"))?;
        remove_if_stale(path)?;

        let listener = UnixListener::bind(path).map_err(setup("binding"))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
            .map_err(setup("setting mode 0660"))?;
        if let Some(group) = group {
            let gid = group_id(group).map_err(|error| match error {
                GroupError::Missing => SocketError::NoSuchGroup {
                    group: group.to_string(),
                },
                GroupError::Lookup(source) => SocketError::Setup {
                    path: path.to_path_buf(),
                    action: "looking up the socket group",
                    source,
                },
            })?;
            std::os::unix::fs::chown(path, None, Some(gid)).map_err(setup("setting its group"))?;
        }
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }
}

/// Removes a stale socket file, which refuses connections, or fails if a daemon accepts
/// connections on it.
fn remove_if_stale(path: &Path) -> Result<(), SocketError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(SocketError::InUse {
            path: path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            info!(socket = %path.display(), "removing a stale control socket left by a stopped daemon");
            std::fs::remove_file(path).map_err(|source| SocketError::Setup {
                path: path.to_path_buf(),
                action: "removing the stale socket",
                source,
            })
        }
        Err(source) => Err(SocketError::Setup {
            path: path.to_path_buf(),
            action: "checking the existing socket file",
            source,
        }),
    }
}

enum GroupError {
    Missing,
    Lookup(io::Error),
}

fn group_id(name: &str) -> Result<u32, GroupError> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(GroupError::Missing),
        Err(errno) => Err(GroupError::Lookup(io::Error::from(errno))),
    }
}

/// The identity of a connected client, from the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// User id.
    pub uid: u32,
    /// Process id, when the platform reports it.
    pub pid: Option<i32>,
}

/// A request for the control loop with the channel for its reply.
#[derive(Debug)]
pub struct Envelope {
    /// The request: status or action.
    pub request: Request,
    /// The sender's identity; `None` for the daemon's own metrics endpoint.
    pub peer: Option<Peer>,
    /// The channel for the reply.
    pub reply: oneshot::Sender<Reply>,
}

/// The state that connection tasks share.
#[derive(Clone, Debug)]
pub struct ServerContext {
    /// The control loop's request queue.
    pub requests: mpsc::Sender<Envelope>,
    /// Committed events, for subscribers.
    pub events: broadcast::Sender<EventRecord>,
    /// The journal's folder, read for `events` requests.
    pub journal_dir: PathBuf,
}

/// Accepts connections until the task is aborted, one task per connection.
pub async fn serve(listener: UnixListener, context: ServerContext) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, context.clone()));
            }
            Err(error) => {
                warn!(%error, "accepting a control connection failed");
                // A burst of failures (out of file descriptors) must not spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(stream: UnixStream, context: ServerContext) {
    let peer = stream.peer_cred().ok().map(|credentials| Peer {
        uid: credentials.uid(),
        pid: credentials.pid(),
    });
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_REQUEST_BYTES)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                debug!(%error, "control connection closed");
                return;
            }
        }
        if line.last() != Some(&b'\n') && line.len() as u64 >= MAX_REQUEST_BYTES {
            let reply = invalid(format!("request longer than {MAX_REQUEST_BYTES} bytes"));
            let _ = write_reply(&mut writer, &reply).await;
            return;
        }
        let request = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => request,
            Err(error) => {
                if write_reply(&mut writer, &invalid(error.to_string()))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        if request.is_mutating() {
            let (uid, pid) = (peer.map(|p| p.uid), peer.and_then(|p| p.pid));
            info!(uid, pid, request = ?request, "operator request");
        }
        let keep_open = match request {
            Request::Subscribe {} => {
                subscribe(&mut reader, &mut writer, &context).await;
                false
            }
            Request::Events {
                since_unix_ms,
                node,
                limit,
            } => {
                let filter = JournalFilter {
                    since_unix_ms,
                    node,
                    limit,
                };
                let reply = events_reply(context.journal_dir.clone(), filter).await;
                write_reply(&mut writer, &reply).await.is_ok()
            }
            request => {
                let reply = ask_core(&context, request, peer).await;
                write_reply(&mut writer, &reply).await.is_ok()
            }
        };
        if !keep_open {
            return;
        }
    }
}

/// Sends a request to the control loop and waits for its reply.
pub async fn ask_core(context: &ServerContext, request: Request, peer: Option<Peer>) -> Reply {
    let (reply, answer) = oneshot::channel();
    let envelope = Envelope {
        request,
        peer,
        reply,
    };
    let stopped = || Reply::Error {
        code: ErrorCode::Internal,
        message: "the daemon is stopping".to_string(),
    };
    if context.requests.send(envelope).await.is_err() {
        return stopped();
    }
    answer.await.unwrap_or_else(|_| stopped())
}

async fn events_reply(folder: PathBuf, filter: JournalFilter) -> Reply {
    let read = tokio::task::spawn_blocking(move || read_journal(&folder, &filter)).await;
    match read {
        Ok(Ok(read)) => Reply::Events {
            events: read.events,
            skipped_lines: read.skipped_lines,
        },
        Ok(Err(error)) => Reply::Error {
            code: ErrorCode::Internal,
            message: format!("reading the event journal failed: {error}"),
        },
        Err(error) => Reply::Error {
            code: ErrorCode::Internal,
            message: format!("reading the event journal failed: {error}"),
        },
    }
}

/// Streams committed events until the client closes its side or the daemon stops.
async fn subscribe<R, W>(reader: &mut BufReader<R>, writer: &mut W, context: &ServerContext)
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut events = context.events.subscribe();
    if write_reply(writer, &Reply::Subscribed).await.is_err() {
        return;
    }
    let mut ignored = Vec::new();
    loop {
        tokio::select! {
            received = events.recv() => {
                let reply = match received {
                    Ok(record) => Reply::Event(record),
                    Err(broadcast::error::RecvError::Lagged(missed)) => Reply::Error {
                        code: ErrorCode::Internal,
                        message: format!(
                            "this subscriber fell behind and missed {missed} events; \
                             read them with `picluster events`"
                        ),
                    },
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if write_reply(writer, &reply).await.is_err() {
                    return;
                }
            }
            read = reader.read_until(b'\n', &mut ignored) => {
                // The client sends nothing after subscribing; end of input ends the stream.
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
                ignored.clear();
            }
        }
    }
}

fn invalid(message: String) -> Reply {
    Reply::Error {
        code: ErrorCode::InvalidRequest,
        message: format!("invalid request: {message}; see docs/protocol.md"),
    }
}

async fn write_reply<W: AsyncWrite + Unpin>(writer: &mut W, reply: &Reply) -> io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line).await
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[tokio::test]
    async fn socket_file_gets_mode_0660() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("run/picluster.sock");
        let _socket = ControlSocket::bind(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660);
    }

    #[tokio::test]
    async fn socket_gets_configured_group() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("picluster.sock");
        let gid = nix::unistd::getegid();
        let group = nix::unistd::Group::from_gid(gid).unwrap().unwrap();
        let _socket = ControlSocket::bind(&path, Some(&group.name)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().gid(), gid.as_raw());
    }

    #[tokio::test]
    async fn unknown_group_is_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("picluster.sock");
        let error = ControlSocket::bind(&path, Some("no-such-group-picluster")).unwrap_err();
        assert!(matches!(error, SocketError::NoSuchGroup { .. }), "{error}");
    }

    #[tokio::test]
    async fn stale_socket_is_replaced() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("picluster.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a dropped listener leaves its file behind");
        let socket = ControlSocket::bind(&path, None).unwrap();
        let accepted = tokio::spawn(async move { socket.listener.accept().await.is_ok() });
        UnixStream::connect(&path).await.unwrap();
        assert!(accepted.await.unwrap());
    }

    #[tokio::test]
    async fn live_socket_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("picluster.sock");
        let _first = ControlSocket::bind(&path, None).unwrap();
        let error = ControlSocket::bind(&path, None).unwrap_err();
        assert!(matches!(error, SocketError::InUse { .. }));
        assert!(error.to_string().contains("already running"), "{error}");
    }

    #[tokio::test]
    async fn invalid_line_gets_error_and_connection_stays() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("picluster.sock");
        let socket = ControlSocket::bind(&path, None).unwrap();
        let (requests, _queue) = mpsc::channel(1);
        let (events, _) = broadcast::channel(1);
        let context = ServerContext {
            requests,
            events,
            journal_dir: folder.path().to_path_buf(),
        };
        let server = tokio::spawn(serve(socket.listener, context));

        let stream = UnixStream::connect(&path).await.unwrap();
        let (reader, mut writer) = stream.into_split();
        let mut lines = BufReader::new(reader).lines();
        writer
            .write_all(b"{\"request\":\"reboot\"}\n")
            .await
            .unwrap();
        let reply: Reply =
            serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        assert!(matches!(
            reply,
            Reply::Error {
                code: ErrorCode::InvalidRequest,
                ..
            }
        ));
        writer
            .write_all(b"{\"request\":\"events\"}\n")
            .await
            .unwrap();
        let reply: Reply =
            serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        assert!(matches!(reply, Reply::Events { .. }), "{reply:?}");
        server.abort();
    }
}
