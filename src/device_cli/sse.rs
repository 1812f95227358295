//! A Server-Sent Events reader (WHATWG HTML §9.2, "event stream
//! interpretation"), small enough to read: bytes in, complete events out.
//! Only what the inbox stream needs: `event`, `data` (joined with `\n`),
//! comments (keep-alives) ignored; `id` and `retry` are ignored too.

/// One dispatched event: its type (`message` when unnamed) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Feeds on chunks as they arrive; a line or a UTF-8 character split across
/// two chunks is held until the rest comes.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Takes the next chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // A CR LF pair is one line end; a CR alone at the chunk's end may
            // still be followed by its LF, so wait for the next byte.
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let skip = if self.pending[end] == b'\r' && self.pending.get(end + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.pending.drain(..end + skip).take(end).collect();
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            let event = self.event.take().unwrap_or_else(|| "message".to_owned());
            return Some(SseEvent { event, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn named_events_are_dispatched_on_the_blank_line() {
        let mut p = SseParser::default();
        assert_eq!(p.push(b"event: inbox\ndata: {\"a\":1}\n"), vec![]);
        assert_eq!(p.push(b"\n"), vec![event("inbox", "{\"a\":1}")]);
    }

    #[test]
    fn keep_alive_comments_and_unknown_fields_are_ignored() {
        let mut p = SseParser::default();
        assert_eq!(p.push(b":\n\n: keep-alive\n\nid: 7\nretry: 10\n\n"), vec![]);
    }

    #[test]
    fn lines_and_characters_split_across_chunks_are_reassembled() {
        let mut p = SseParser::default();
        let whole = "event: inbox\r\ndata: Zahle 10 €\r\n\r\n".as_bytes();
        let mut got = Vec::new();
        for byte in whole {
            got.extend(p.push(std::slice::from_ref(byte)));
        }
        assert_eq!(got, vec![event("inbox", "Zahle 10 €")]);
    }

    #[test]
    fn multi_line_data_is_joined_and_unnamed_events_are_messages() {
        let mut p = SseParser::default();
        assert_eq!(
            p.push(b"data: one\ndata:two\r\rdata\n\n"),
            vec![event("message", "one\ntwo"), event("message", "")]
        );
    }
}
