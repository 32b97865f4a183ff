//! Sends the process's own messages (server state changes, return-path warnings, refused
//! sessions, errors) to the `global` section's log targets too, as HAProxy logs its events:
//! a `tracing` layer beside the stderr one. Warnings and errors always; information only from
//! the modules that report state changes, so that the log is not one line per connection.
//! Must not block: the targets drop what they cannot take.

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

pub struct SyslogLayer;

/// Modules whose information messages are state changes an operator wants in the log.
const STATE_MODULES: &[&str] = &["clearway_proxy::checks", "clearway_proxy::control", "clearway::startup"];

/// The event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            self.fields.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S: Subscriber> Layer<S> for SyslogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO if STATE_MODULES.iter().any(|m| meta.target().starts_with(m)) => 5,
            _ => return,
        };
        let mut m = Message::default();
        event.record(&mut m);
        m.text.push_str(&m.fields);
        clearway_proxy::log::process_message(level, &m.text);
    }
}
