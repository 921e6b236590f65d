//! An X-Ray daemon on 127.0.0.1: a UDP socket receiving what a traced function sends, each
//! datagram checked for the daemon's header and parsed as one segment document.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use serde_json::Value;
use tokio::{net::UdpSocket, sync::mpsc};

use super::HANG_GUARD;

/// What precedes every document.
pub(crate) const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// The datagram the test sends itself to know that everything sent before it was read.
const MARKER: &[u8] = b"helve-test: end of what was sent";

/// The daemon's socket and what it received.
pub(crate) struct XRayDaemon {
    addr: SocketAddr,
    socket: Arc<UdpSocket>,
    received: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl XRayDaemon {
    pub(crate) async fn start() -> Self {
        let socket = Arc::new(
            UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("a UDP port on 127.0.0.1"),
        );
        let addr = socket.local_addr().expect("the socket's address");
        let (tx, received) = mpsc::unbounded_channel();
        let reader = Arc::clone(&socket);
        tokio::spawn(async move {
            let mut buffer = vec![0; 70 * 1024];
            while let Ok((len, _)) = reader.recv_from(&mut buffer).await {
                if tx.send(buffer[..len].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            addr,
            socket,
            received,
        }
    }

    /// `AWS_XRAY_DAEMON_ADDRESS` for a function sending here.
    pub(crate) fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Every datagram received so far, in order: to call once the function answered (it sends
    /// each document before it answers). Each is checked to be at most 64 KB and to start with
    /// the daemon's header.
    pub(crate) async fn datagrams(&mut self) -> Vec<Vec<u8>> {
        let sender = UdpSocket::bind("127.0.0.1:0").await.expect("a UDP port");
        sender
            .send_to(MARKER, self.addr)
            .await
            .expect("the marker is sent");
        let mut datagrams = Vec::new();
        loop {
            let next = tokio::time::timeout(HANG_GUARD, self.received.recv()).await;
            match next {
                Ok(Some(datagram)) if datagram == MARKER => return datagrams,
                Ok(Some(datagram)) => datagrams.push(datagram),
                Ok(None) | Err(_) => panic!(
                    "hang guard: the daemon's socket did not read back its own marker within {} s",
                    HANG_GUARD.as_secs()
                ),
            }
        }
    }

    /// Every document received so far, parsed, in the order they arrived.
    pub(crate) async fn documents(&mut self) -> Vec<Value> {
        let _ = &self.socket;
        self.datagrams()
            .await
            .iter()
            .map(|datagram| {
                assert!(
                    datagram.len() <= 64 * 1024,
                    "a datagram of {} bytes",
                    datagram.len()
                );
                let text = std::str::from_utf8(datagram).expect("a datagram is UTF-8");
                let document = text.strip_prefix(DAEMON_HEADER).unwrap_or_else(|| {
                    panic!("a datagram without the daemon's header: {text:.200}")
                });
                serde_json::from_str(document).unwrap_or_else(|error| {
                    panic!("not a JSON document ({error}): {document:.200}")
                })
            })
            .collect()
    }
}

/// The documents with their ids (`id`, `parent_id`, and the exceptions' `id`) replaced by
/// `#1`, `#2`, ... in the order they first appear, except `keep` (Lambda's own segment's id,
/// say), and their times checked (start before end, both in this century) and set to 0.
pub(crate) fn normalised(documents: &[Value], keep: &[&str]) -> Vec<Value> {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut name = |id: &Value| -> Value {
        let id = id.as_str().expect("an id is a string");
        assert!(
            id.len() == 16
                && id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "an id is 16 lowercase hex digits: {id}"
        );
        if keep.contains(&id) {
            return Value::from(id);
        }
        let next = names.len() + 1;
        Value::from(
            names
                .entry(id.to_owned())
                .or_insert_with(|| format!("#{next}"))
                .clone(),
        )
    };
    documents
        .iter()
        .map(|document| {
            let mut document = document.clone();
            for key in ["id", "parent_id"] {
                if let Some(id) = document.get(key) {
                    let named = name(id);
                    document[key] = named;
                }
            }
            if let Some(exceptions) = document
                .pointer_mut("/cause/exceptions")
                .and_then(Value::as_array_mut)
            {
                for exception in exceptions {
                    exception["id"] = name(&exception["id"]);
                }
            }
            let start = document["start_time"].as_f64().expect("a start_time");
            let end = document["end_time"].as_f64().expect("an end_time");
            assert!(1.7e9 < start && start <= end, "times {start} to {end}");
            document["start_time"] = Value::from(0);
            document["end_time"] = Value::from(0);
            document
        })
        .collect()
}
