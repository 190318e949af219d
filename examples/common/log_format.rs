//! The reference servers' log lines: tracing-subscriber's default ("full") layout, the same
//! text byte for byte when stderr is not a terminal, written a piece at a time instead of
//! through `core::fmt` and the ANSI styling for each piece.
//!
//! `2026-12-01T08:30:00.123456Z  INFO techcentrix_auth::events: auth event event="sign_up" app=demo user=…`
//!
//! With the default formatter, a sign-up's audit line spent 1.5 µs formatting (its level,
//! target and separators each through a styled `Display`, each field's name and value through
//! `write!`), ~5 % of a sign-up's server CPU (`bash bench/profile.sh sign-up`). Here the
//! fixed pieces are copied, a `str` field that needs no escaping is copied between quotes,
//! and only other values go through their `Debug` or `Display`.
//!
//! One difference, deliberate: every field value has its control characters escaped (`\n` as
//! `\x0a`, ESC as `\x1b`, C1 codes as `\u{9b}`), so that no value can start a line of its own
//! or send a terminal escape; the default escapes only the message's. On a terminal (colours
//! on) the default formatter writes the frame and these fields.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::log_clock::CachedSecondClock;

/// The event formatter: see the module's documentation.
#[derive(Debug)]
pub(crate) struct LineFormat {
    /// The default formatter, for a terminal's coloured lines.
    colored: Format<Full, CachedSecondClock>,
}

impl LineFormat {
    /// The formatter, with the cached-second timestamps on every line.
    pub(crate) fn new() -> Self {
        Self {
            colored: Format::default().with_timer(CachedSecondClock),
        }
    }
}

/// A level as the default formatter writes it without colours: right-aligned in five
/// characters, then a space.
fn level_text(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        Level::ERROR => "ERROR ",
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return self.colored.format_event(ctx, writer, event);
        }
        // A `log` record's metadata (its target, its level) as the record gave them.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if CachedSecondClock.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(level_text(meta.level()))?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The fields formatter: `message` first as it was recorded, then ` name=value` for each
/// other field (a `str` quoted, as `Debug` quotes it), values' control characters escaped.
#[derive(Debug, Default)]
pub(crate) struct LineFields;

impl<'writer> FormatFields<'writer> for LineFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldsVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes fields in the default visitor's layout.
struct FieldsVisitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl FieldsVisitor<'_> {
    /// Writes the separator and the field's `name=` (nothing for the message). Returns
    /// `None` for a field that is not written (a `log` record's metadata, already in the
    /// line's frame) or after an error, else whether the field is the message.
    fn start(&mut self, field: &Field) -> Option<bool> {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return None;
        }
        if self.first {
            self.first = false;
        } else {
            self.result = self.writer.write_char(' ');
        }
        let is_message = name == "message";
        if !is_message {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .result
                .and_then(|()| self.writer.write_str(name))
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok().then_some(is_message)
    }
}

impl Visit for FieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let Some(is_message) = self.start(field) else {
            return;
        };
        self.result = if is_message {
            Escaping(&mut self.writer).write_str(value)
        } else if value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            // What `Debug` writes for it, without going through it.
            self.writer
                .write_char('"')
                .and_then(|()| self.writer.write_str(value))
                .and_then(|()| self.writer.write_char('"'))
        } else {
            // A `str`'s `Debug` escapes its control characters itself.
            write!(self.writer, "{value:?}")
        };
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field).is_some() {
            self.result = write!(Escaping(&mut self.writer), "{value:?}");
        }
    }
}

/// Passes text on with its control characters escaped: C0 (but for the space) and DEL as
/// `\xNN`, C1 as `\u{NN}`. Text with none, the usual case, is passed on whole.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // C1 codes are U+0080..U+009F: in UTF-8, 0xC2 then 0x80..0x9F.
        if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
            return self.0.write_str(s);
        }
        for ch in s.chars() {
            match u32::from(ch) {
                code @ (0..0x20 | 0x7f) => write!(self.0, "\\x{code:02x}")?,
                code @ 0x80..0xa0 => write!(self.0, "\\u{{{code:x}}}")?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}
