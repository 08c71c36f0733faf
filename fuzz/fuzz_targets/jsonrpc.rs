//! Any bytes as a client's stdio input: the server answers only with well-formed
//! JSON-RPC lines, finishes when the input ends, and never panics.
//!
//! Seeded from `seeds/jsonrpc` (an `initialize` handshake, tool calls, the 2026-07-28
//! stateless form, a batch and garbage):
//! `cargo fuzz run -s none jsonrpc corpus/jsonrpc seeds/jsonrpc -- -max_total_time=60` from `fuzz/`.
#![no_main]

use cast_fuzz::harness;
use libfuzzer_sys::fuzz_target;
use rmcp::ServiceExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let output = h.runtime.block_on(async {
        let (server_end, client_end) = tokio::io::duplex(1 << 16);
        let server = h.server.clone();
        let serving = tokio::spawn(async move {
            if let Ok(running) = server.serve(tokio::io::split(server_end)).await {
                let _ = running.waiting().await;
            }
        });
        let (mut read, mut write) = tokio::io::split(client_end);
        let send = async move {
            let _ = write.write_all(data).await;
            let _ = write.write_all(b"\n").await;
            let _ = write.shutdown().await;
        };
        let mut output = Vec::new();
        let receive = read.read_to_end(&mut output);
        let (_, received) = tokio::join!(send, receive);
        received.expect("read");
        serving.await.expect("the server task ends without a panic");
        output
    });
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let message: serde_json::Value = serde_json::from_slice(line).expect("every line is JSON");
        assert_eq!(message["jsonrpc"], "2.0", "{message}");
        assert!(
            message.get("result").is_some() || message.get("error").is_some() || message.get("method").is_some(),
            "{message}"
        );
    }
});
