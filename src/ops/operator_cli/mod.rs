//! The operator's command line for what is registered: clients, users and
//! their devices, transactions and the audit trail, listed and shown, and
//! changed through the same engine calls as the console and the management
//! API (same rules, same audit entries, under the actor `cli`). Each
//! command answers a table for people, or JSON with `--json`.

pub mod client_add;
pub mod clients;
pub mod records;
pub mod rules;
pub mod users;

use serde::Serialize;

/// How a command answers.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Output {
    /// Answer in JSON, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Prints `value` as JSON, or as `text` says for people.
pub fn print<T: Serialize>(output: &Output, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if output.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

/// Rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(rows.iter().map(|row| line(row.iter().map(String::as_str).collect())));
    if rows.is_empty() {
        out.push("(none)".into());
    }
    out.join("\n")
}

/// A unix time as people read it (UTC), or `-`.
pub fn when(at: Option<i64>) -> String {
    at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_its_columns_and_says_when_it_is_empty() {
        let rows = vec![
            vec!["a".to_owned(), "longer".to_owned()],
            vec!["bbb".to_owned(), "x".to_owned()],
        ];
        assert_eq!(table(&["id", "name"], &rows), "id   name\na    longer\nbbb  x");
        assert_eq!(table(&["id"], &[]), "id\n(none)");
        assert_eq!(when(Some(0)), "1970-01-01 00:00:00Z");
        assert_eq!(when(None), "-");
    }
}
