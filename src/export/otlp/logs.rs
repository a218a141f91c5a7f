//! Alert events as OTLP log records: event name, severity number and text, a one-line
//! body, the event's attributes and its stable id as `log.record.uid`.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::model::event::{Event, Value};

fn text(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(value.to_string())),
    })
}

fn key_value(key: &str, value: &Value) -> KeyValue {
    let value = match value {
        Value::Int(n) => any_value::Value::IntValue(*n),
        Value::Float(x) => any_value::Value::DoubleValue(*x),
        Value::Text(s) => any_value::Value::StringValue(s.clone()),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn nanos(time: chrono::DateTime<chrono::Utc>) -> u64 {
    time.timestamp_nanos_opt().unwrap_or(0).max(0) as u64
}

/// One export request holding `events` under `resource`.
pub(crate) fn request(resource: &[(String, String)], events: &[Event]) -> ExportLogsServiceRequest {
    let now = nanos(chrono::Utc::now());
    let records = events
        .iter()
        .map(|event| {
            let mut attributes = vec![key_value("log.record.uid", &Value::Text(event.id.clone()))];
            attributes.extend(event.attributes.iter().map(|(k, v)| key_value(k, v)));
            LogRecord {
                time_unix_nano: nanos(event.time),
                observed_time_unix_nano: now,
                severity_number: event.severity.number(),
                severity_text: event.severity.text().to_string(),
                body: text(&event.body),
                attributes,
                event_name: event.name.clone(),
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource
                    .iter()
                    .map(|(k, v)| key_value(k, &Value::Text(v.clone())))
                    .collect(),
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "perfwarden".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
