//! `cache.redis` — a GET / SET / DEL mix against a Redis of the user's, the way a service
//! uses its cache.
//!
//! **Operation:** one command on one of `clients` connections (default 50): a GET
//! (`read_percent`, default 80), a SET of a `value_bytes` value (`write_percent`, default
//! 15) or a DEL, the invalidation (the rest), on a key drawn uniformly from `keys` keys
//! under `key_prefix`. The keys are written once before the load (so GETs hit until
//! invalidated) and deleted after it, whatever happened: the benchmark leaves nothing in
//! the user's Redis.
//!
//! **Unit:** successful operations per second over all clients (higher is better), plus
//! per-operation latency percentiles and the error ratio by class; the load runs for
//! `duration` after a `ramp_up`, with the error guard and the `[load]` guard rails of the
//! HTTP load tests (the same engine, `workload::traffic`).
//!
//! `rediss://` speaks TLS (rustls, the system's roots, as the HTTP load tests); a
//! certificate that does not verify fails the benchmark with the TLS reason.
//!
//! A password comes from `password = { env = "VAR" }`, `{ file = "…" }` or
//! `{ credential = "…" }` and is never logged; a refused authentication fails the
//! benchmark with that reason before any load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo};
use serde::{Deserialize, Serialize};

use super::load_http::HeaderValue;
use super::traffic::engine::{Pacing, Plan};
use super::traffic::{self, Failure, FailureClass, LoadSampling, LoadTarget, Meter, Objective};
use crate::model::metric::{MetricDef, ResultDetails};
use crate::model::units::{ConfigDuration, Percent};
use crate::workload::{LatencyRecorder, Threads, Workload, WorkloadContext, WorkloadError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRedisConfig {
    /// `redis://host:port/db`, `rediss://` for TLS (verified against the system's roots,
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR` honoured), or `redis+unix:///path`.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    /// The password, as a literal or a secret source (like an HTTP header value).
    #[serde(default)]
    pub password: Option<HeaderValue>,
    #[serde(default = "default_clients")]
    pub clients: usize,
    #[serde(default = "default_value_bytes")]
    pub value_bytes: usize,
    #[serde(default = "default_keys")]
    pub keys: u64,
    #[serde(default = "default_read_percent")]
    pub read_percent: u8,
    #[serde(default = "default_write_percent")]
    pub write_percent: u8,
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    #[serde(default = "traffic::default_duration")]
    pub duration: ConfigDuration,
    #[serde(default = "default_ramp_up")]
    pub ramp_up: ConfigDuration,
    #[serde(default = "traffic::default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: ConfigDuration,
    #[serde(default = "traffic::default_abort_ratio")]
    pub abort_error_ratio: Percent,
    #[serde(default = "traffic::default_abort_window")]
    pub abort_window: ConfigDuration,
    #[serde(default)]
    pub threads: Threads,
    /// `[load]` caps, copied here by the config stage.
    #[serde(skip)]
    pub rate_cap: Option<f64>,
    #[serde(skip)]
    pub max_duration: Option<Duration>,
}

fn default_clients() -> usize {
    50
}
fn default_value_bytes() -> usize {
    256
}
fn default_keys() -> u64 {
    10_000
}
fn default_read_percent() -> u8 {
    80
}
fn default_write_percent() -> u8 {
    15
}
fn default_key_prefix() -> String {
    "perfwarden:bench:".into()
}
fn default_ramp_up() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(1))
}
fn default_request_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

impl CacheRedisConfig {
    /// The host of the URL, for the `[load]` allowed-hosts check.
    pub fn host(&self) -> Result<String, String> {
        match self.url.as_str().into_connection_info() {
            Ok(info) => match info.addr() {
                redis::ConnectionAddr::Tcp(host, _)
                | redis::ConnectionAddr::TcpTls { host, .. } => Ok(host.clone()),
                redis::ConnectionAddr::Unix(_) => Ok("localhost".into()),
                _ => Err("only redis://, rediss:// and redis+unix:// URLs are supported".into()),
            },
            Err(e) => Err(format!("\"{}\" is not a Redis URL: {e}", self.url)),
        }
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Err(e) = self.host() {
            problems.push(("url".into(), e));
        }
        if self.clients == 0 {
            problems.push(("clients".into(), "must be at least 1".into()));
        }
        if !(1..=16 * 1024 * 1024).contains(&self.value_bytes) {
            problems.push((
                "value_bytes".into(),
                "must be between 1 and 16777216".into(),
            ));
        }
        if !(1..=10_000_000).contains(&self.keys) {
            problems.push(("keys".into(), "must be between 1 and 10000000".into()));
        }
        if u16::from(self.read_percent) + u16::from(self.write_percent) > 100 {
            problems.push((
                "write_percent".into(),
                "read_percent + write_percent must be at most 100 (the rest are DELs)".into(),
            ));
        }
        if self.key_prefix.is_empty() {
            problems.push((
                "key_prefix".into(),
                "must not be empty: the benchmark deletes its keys afterwards".into(),
            ));
        }
        if self.duration.0 < Duration::from_secs(1) {
            problems.push(("duration".into(), "must be at least 1s".into()));
        }
        if !(self.abort_error_ratio.0 > 0.0 && self.abort_error_ratio.0 <= 1.0) {
            problems.push((
                "abort_error_ratio".into(),
                "must be above 0% and at most 100%".into(),
            ));
        }
        if self.threads == Threads::Count(0) {
            problems.push(("threads".into(), "must be at least 1, or \"all\"".into()));
        }
        problems
    }
}

struct RedisTarget {
    client: redis::Client,
    connection_config: AsyncConnectionConfig,
    host: String,
    value: Vec<u8>,
    keys: u64,
    key_prefix: String,
    read_percent: u64,
    write_percent: u64,
    seeds: AtomicU64,
}

/// A client's connection and its key generator (xorshift; no lock, no shared state).
struct RedisConnection {
    connection: MultiplexedConnection,
    random: u64,
}

impl RedisTarget {
    fn key(&self, index: u64) -> String {
        format!("{}{index}", self.key_prefix)
    }

    fn classify(&self, error: redis::RedisError) -> Failure {
        let class = if error.is_timeout() {
            FailureClass::Timeout
        } else if error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
            || error.kind() == redis::ErrorKind::AuthenticationFailed
        {
            FailureClass::Connect
        } else {
            FailureClass::Status
        };
        Failure::new(class, format!("Redis at {}: {error}", self.host))
    }

    async fn fill_or_clear(&self, fill: bool) -> Result<(), Failure> {
        let mut connection = self.connect().await?.connection;
        let mut index = 0;
        while index < self.keys {
            let mut pipe = redis::pipe();
            for key in index..(index + 1000).min(self.keys) {
                if fill {
                    pipe.cmd("SET").arg(self.key(key)).arg(&self.value).ignore();
                } else {
                    pipe.cmd("DEL").arg(self.key(key)).ignore();
                }
            }
            pipe.query_async::<()>(&mut connection)
                .await
                .map_err(|e| self.classify(e))?;
            index += 1000;
        }
        Ok(())
    }
}

impl LoadTarget for RedisTarget {
    type Connection = RedisConnection;

    async fn connect(&self) -> Result<RedisConnection, Failure> {
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.connection_config)
            .await
            .map_err(|e| self.classify(e))?;
        let seed = self.seeds.fetch_add(1, Ordering::Relaxed);
        Ok(RedisConnection {
            connection,
            random: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        })
    }

    async fn send(&self, connection: &mut RedisConnection) -> Result<u64, Failure> {
        let mut x = connection.random;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        connection.random = x;
        let key = self.key(x % self.keys);
        let pick = (x >> 32) % 100;
        let con = &mut connection.connection;
        let result = if pick < self.read_percent {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(con)
                .await
                .map(|value| value.map_or(0, |v| v.len() as u64))
        } else if pick < self.read_percent + self.write_percent {
            redis::cmd("SET")
                .arg(&key)
                .arg(&self.value)
                .query_async::<()>(con)
                .await
                .map(|()| 0)
        } else {
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<i64>(con)
                .await
                .map(|_| 0)
        };
        result.map_err(|e| self.classify(e))
    }
}

pub(crate) struct CacheRedis {
    config: CacheRedisConfig,
    target: Option<Arc<RedisTarget>>,
    sampling: LoadSampling,
}

impl CacheRedis {
    pub(crate) fn new(config: CacheRedisConfig) -> Self {
        CacheRedis {
            config,
            target: None,
            sampling: LoadSampling::new("operation"),
        }
    }

    fn target(&self) -> Result<RedisTarget, WorkloadError> {
        let invalid = WorkloadError::Invalid;
        let host = self.config.host().map_err(invalid)?;
        let mut info = self
            .config
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| invalid(format!("url: {e}")))?;
        let mut settings = info.redis_settings().clone();
        if let Some(password) = &self.config.password {
            let secret =
                crate::model::secret::read_header("password", &password.source(), &|var| {
                    std::env::var(var).ok()
                })
                .map_err(|e| invalid(e.0))?;
            settings = settings.set_password(secret.expose());
        }
        if let Some(username) = &self.config.username {
            settings = settings.set_username(username);
        }
        info = info.set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|e| invalid(format!("url: {e}")))?;
        Ok(RedisTarget {
            client,
            connection_config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(self.config.connect_timeout.0))
                .set_response_timeout(Some(self.config.request_timeout.0)),
            host,
            value: vec![b'x'; self.config.value_bytes],
            keys: self.config.keys,
            key_prefix: self.config.key_prefix.clone(),
            read_percent: u64::from(self.config.read_percent),
            write_percent: u64::from(self.config.write_percent),
            seeds: AtomicU64::new(1),
        })
    }

    fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, WorkloadError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WorkloadError::io("cannot start the Redis client", e))?;
        Ok(runtime.block_on(future))
    }
}

impl Workload for CacheRedis {
    fn metric(&self) -> MetricDef {
        MetricDef::throughput("operation")
    }

    fn setup(&mut self, ctx: &WorkloadContext) -> Result<(), WorkloadError> {
        let target = Arc::new(self.target()?);
        traffic::probe(target.as_ref())?;
        Self::block_on(target.fill_or_clear(true))?
            .map_err(|f| WorkloadError::Invalid(format!("writing the keys: {}", f.message)))?;
        self.target = Some(target.clone());
        let ramp_up = self.config.ramp_up.0;
        let plan = Plan {
            users: self.config.clients,
            pacing: self.config.rate_cap.map_or(Pacing::Free, Pacing::Capped),
            ramp_up,
            requests: None,
            max_duration: self
                .config
                .max_duration
                .unwrap_or_else(|| traffic::default_stop_after(ramp_up, self.config.duration.0)),
            abort_error_ratio: self.config.abort_error_ratio.0,
            abort_window: self.config.abort_window.0,
        };
        let threads = self.config.threads.resolve(ctx.available_cpus);
        self.sampling.start(Meter::start(
            target,
            plan,
            threads,
            Objective::Throughput,
            self.config.request_timeout.0,
        )?);
        Ok(())
    }

    fn run(
        &mut self,
        iterations: u64,
        latencies: &mut LatencyRecorder,
    ) -> Result<f64, WorkloadError> {
        self.sampling.run(iterations, latencies)
    }

    fn warmup_done(&mut self) {
        self.sampling.warmup_done();
    }

    fn details(&mut self) -> Option<ResultDetails> {
        self.sampling.details()
    }

    fn teardown(&mut self) -> Result<(), WorkloadError> {
        self.sampling.stop();
        if let Some(target) = self.target.take() {
            Self::block_on(target.fill_or_clear(false))?.map_err(|f| {
                WorkloadError::Invalid(format!(
                    "deleting the keys {}*: {}",
                    target.key_prefix, f.message
                ))
            })?;
        }
        Ok(())
    }
}
