//! The tutorial's design on tokio with batched writes, so that chat-bench can put ours beside
//! it in one run: a broker task owns the peers map; each peer has a writer task that drains
//! everything queued for it into one write; a delivery is formatted once and shared by its
//! recipients. Like the tutorial: the first line is the login (a second holder
//! of a login is ignored), then `names: text`; a line without `:` is skipped; queues are
//! unbounded. Usage: `a-chat-tokio [PORT]` (0 picks a free port); it prints
//! `listening on 127.0.0.1:PORT`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

type Delivery = Arc<[u8]>;

enum Event {
    Join { name: String, id: u64, writer: UnboundedSender<Delivery> },
    Leave { name: String, id: u64 },
    Message { from: String, to: Vec<String>, text: String },
}

/// What one write may gather from a peer's queue.
const BATCH_BYTES: usize = 256 * 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse().expect("the port is a number"),
        None => 8080,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let (events, inbox) = unbounded_channel();
    tokio::spawn(broker(inbox));
    let mut next_id = 0u64;
    loop {
        // Out of descriptors (the 10,000-client rows) is worth a line, not the server's end.
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("accept: {}", error);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        next_id += 1;
        tokio::spawn(client(stream, events.clone(), next_id));
    }
}

fn without_newline(line: &str) -> &str {
    line.trim_end_matches(|c| c == '\n' || c == '\r')
}

async fn client(stream: TcpStream, events: UnboundedSender<Event>, id: u64) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    match reader.read_line(&mut line).await {
        Ok(n) if n > 0 => {}
        _ => return,
    }
    let name = without_newline(&line).to_string();
    let (writer, mut queue) = unbounded_channel::<Delivery>();
    let _ = events.send(Event::Join { name: name.clone(), id, writer });
    let writing = tokio::spawn(async move {
        let mut batch: Vec<u8> = Vec::with_capacity(4096);
        while let Some(first) = queue.recv().await {
            batch.clear();
            batch.extend_from_slice(&first);
            while batch.len() < BATCH_BYTES {
                match queue.try_recv() {
                    Ok(more) => batch.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            if write.write_all(&batch).await.is_err() {
                break;
            }
        }
    });
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
        let text = without_newline(&line);
        let colon = match text.find(':') {
            Some(colon) => colon,
            None => continue,
        };
        let to = text[..colon].split(',').map(|name| name.trim().to_string()).collect();
        let message = text[colon + 1..].trim().to_string();
        let _ = events.send(Event::Message { from: name.clone(), to, text: message });
    }
    let _ = events.send(Event::Leave { name, id });
    let _ = writing.await;
}

async fn broker(mut inbox: UnboundedReceiver<Event>) {
    let mut peers: HashMap<String, (u64, UnboundedSender<Delivery>)> = HashMap::new();
    while let Some(event) = inbox.recv().await {
        match event {
            Event::Join { name, id, writer } => {
                peers.entry(name).or_insert((id, writer));
            }
            Event::Leave { name, id } => {
                if peers.get(&name).map(|peer| peer.0) == Some(id) {
                    peers.remove(&name);
                }
            }
            Event::Message { from, to, text } => {
                let delivery: Delivery = Arc::from(format!("from {}: {}\n", from, text).into_bytes());
                for name in to {
                    if let Some((_, peer)) = peers.get(&name) {
                        let _ = peer.send(delivery.clone());
                    }
                }
            }
        }
    }
}
