//! `net.loopback` — the host's TCP stack without the network: round trips to an echo
//! server on 127.0.0.1.
//!
//! **Operation:** one round trip: the client writes `message_bytes` (default 64) on a
//! `TCP_NODELAY` connection and reads them back from an echo server thread the probe
//! starts itself. **Unit:** round trips per second (higher is better), plus the latency of
//! every round trip (p50, p99 from the HDR histogram) and bytes/s both ways as a
//! measurement. Like `sockperf ping-pong` on loopback: kernel, scheduler and wake-up
//! latency, the things a noisy neighbour or a new kernel changes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::metric::{Measurement, MetricDef, ResultDetails};
use crate::workload::{LatencyRecorder, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetLoopbackConfig {
    #[serde(default = "default_message_bytes")]
    pub message_bytes: usize,
}

fn default_message_bytes() -> usize {
    64
}

impl NetLoopbackConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        if (1..=1024 * 1024).contains(&self.message_bytes) {
            Vec::new()
        } else {
            vec![(
                "message_bytes".into(),
                "must be between 1 and 1048576".into(),
            )]
        }
    }
}

pub(crate) struct NetLoopback {
    config: NetLoopbackConfig,
    client: Option<TcpStream>,
    server: Option<std::thread::JoinHandle<()>>,
    message: Vec<u8>,
    answer: Vec<u8>,
    round_trips: u64,
    busy_secs: f64,
}

impl NetLoopback {
    pub(crate) fn new(config: NetLoopbackConfig) -> Self {
        NetLoopback {
            config,
            client: None,
            server: None,
            message: Vec::new(),
            answer: Vec::new(),
            round_trips: 0,
            busy_secs: 0.0,
        }
    }
}

fn echo(mut stream: TcpStream, size: usize) {
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; size];
    while stream.read_exact(&mut buffer).is_ok() {
        if stream.write_all(&buffer).is_err() {
            return;
        }
    }
}

impl Workload for NetLoopback {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("round_trip")
    }

    fn setup(&mut self, _ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let io = |what: &str, e| WorkloadError::io(what.to_string(), e);
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| io("cannot listen on loopback", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| io("loopback address", e))?;
        let size = self.config.message_bytes;
        self.server = Some(
            std::thread::Builder::new()
                .name("loopback-echo".into())
                .spawn(move || {
                    if let Ok((stream, _)) = listener.accept() {
                        echo(stream, size);
                    }
                })
                .map_err(|e| io("cannot start the echo thread", e))?,
        );
        let client = TcpStream::connect(addr).map_err(|e| io("cannot connect on loopback", e))?;
        client.set_nodelay(true).map_err(|e| io("TCP_NODELAY", e))?;
        self.client = Some(client);
        self.message = vec![0x5a; size];
        self.answer = vec![0; size];
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| WorkloadError::not_set_up("the loopback connection"))?;
        let started = Instant::now();
        for _ in 0..iterations {
            let sent = Instant::now();
            client
                .write_all(&self.message)
                .and_then(|()| client.read_exact(&mut self.answer))
                .map_err(|e| WorkloadError::io("loopback round trip", e))?;
            latencies.record_nanos(sent.elapsed().as_nanos() as u64);
        }
        self.busy_secs += started.elapsed().as_secs_f64();
        self.round_trips += iterations;
        Ok(iterations as f64)
    }

    fn warmup_done(&mut self) {
        self.round_trips = 0;
        self.busy_secs = 0.0;
    }

    fn details(&mut self) -> Option<ResultDetails> {
        (self.busy_secs > 0.0).then(|| ResultDetails {
            outcomes: None,
            measurements: vec![Measurement::new(
                "bytes_per_second",
                (2 * self.config.message_bytes as u64 * self.round_trips) as f64 / self.busy_secs,
                "By/s",
            )],
        })
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        // Closing the client ends the echo thread.
        self.client = None;
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_are_counted_and_timed() {
        let mut probe = NetLoopback::new(NetLoopbackConfig { message_bytes: 64 });
        probe
            .setup(&super::super::fake::context_in(std::env::temp_dir(), 1))
            .unwrap();
        let mut latencies = LatencyRecorder::new();
        assert_eq!(probe.run(100, &mut latencies).unwrap(), 100.0);
        assert_eq!(latencies.summary().unwrap().count, 100);
        assert!(probe.details().unwrap().measurements[0].value > 0.0);
        probe.teardown().unwrap();
    }
}
