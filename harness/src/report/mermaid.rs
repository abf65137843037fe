//! Mermaid sequence diagrams of what a run did (`conformance run --diagrams DIR`).
//!
//! The diagram is drawn from the observed transcript, not from the scenario: the
//! roles and the homeserver as participants in the order they appear, HTTP exchanges
//! as a request and an answer arrow, channel messages as arrows between the devices in
//! their one-line form, displays, decisions and endings as notes. Rendezvous polling
//! answered `304` is collapsed into one exchange per poller (`304 (polled 5×)`). Every
//! failed expectation is a `✗` note right after the entry it points at (the first
//! `#seq` of its message, else the last line of its context), or at the end.

use std::collections::BTreeSet;

use crate::check::expect::{Failure, Level};
use crate::check::transcript::{channel_summary, decision_line, short_path, Actor, Entry, TranscriptEntry};
use crate::run::result::ScenarioResult;

/// The longest text of one statement, in characters, before it is cut with `…`.
pub const MAX_TEXT: usize = 120;

/// The `sequenceDiagram` of a result.
pub fn sequence_diagram(result: &ScenarioResult) -> String {
    let transcript = &result.transcript;
    let mut participants = participants_of(transcript);
    let has_runner_notes =
        transcript.iter().any(|e| matches!(&e.entry, Entry::Note { actor: Actor::Runner, .. }));
    if participants.is_empty() && (has_runner_notes || !result.failures.is_empty()) {
        participants.push("harness".to_owned());
    }
    let everyone = span(&participants);

    let seqs: BTreeSet<usize> = transcript.iter().map(|e| e.seq).collect();
    let mut anchored: Vec<(Option<usize>, &Failure)> =
        result.failures.iter().map(|f| (anchor(f, &seqs), f)).collect();

    let mut out = String::from("sequenceDiagram\n");
    for p in &participants {
        out.push_str(&format!("    participant {} as {}\n", id(p), text(&label(p))));
    }
    let mut i = 0;
    while i < transcript.len() {
        let polls = transcript[i..].iter().take_while(|e| is_poll(&e.entry)).count();
        let items = if polls > 0 { &transcript[i..i + polls] } else { &transcript[i..=i] };
        if polls > 0 {
            draw_polls(items, &mut out);
        } else {
            draw(&items[0].entry, result, &everyone, &mut out);
        }
        // The failures pointing at one of these entries, right after them.
        let here: BTreeSet<usize> = items.iter().map(|e| e.seq).collect();
        let over = match &items[items.len() - 1].entry {
            Entry::Channel { from, to, .. } if from != to => {
                format!("{},{}", id(from.letter()), id(to.letter()))
            }
            Entry::Note { actor: Actor::Runner, .. } => everyone.clone(),
            other => id(&other.actor().to_string()),
        };
        anchored.retain(|(at, failure)| match at {
            Some(seq) if here.contains(seq) => {
                out.push_str(&failure_note(&over, failure));
                false
            }
            _ => true,
        });
        i += items.len();
    }
    for (_, failure) in anchored {
        out.push_str(&failure_note(&everyone, failure));
    }
    out
}

/// The participants in the order they appear (`runner` is the harness, drawn as
/// notes over everyone rather than as a participant).
fn participants_of(transcript: &[TranscriptEntry]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if name != "runner" && !seen.iter().any(|s| id(s) == id(name)) {
            seen.push(name.to_owned());
        }
    };
    for e in transcript {
        match &e.entry {
            Entry::Http { actor, .. } => {
                add(&actor.to_string());
                add("HS");
            }
            Entry::Channel { from, to, .. } => {
                add(from.letter());
                add(to.letter());
            }
            other => add(&other.actor().to_string()),
        }
    }
    seen
}

/// `first,last` of the participants, or the only one.
fn span(participants: &[String]) -> String {
    match participants {
        [] => "harness".to_owned(),
        [one] => id(one),
        [first, .., last] => format!("{},{}", id(first), id(last)),
    }
}

/// A Mermaid participant ID: letters, digits and `_`; `?` (an unknown caller) is `unknown`.
pub fn id(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if cleaned.chars().all(|c| c == '_') {
        "unknown".to_owned()
    } else if cleaned.eq_ignore_ascii_case("end") {
        // `end` is a keyword of the diagram language.
        format!("{cleaned}_")
    } else {
        cleaned
    }
}

fn label(name: &str) -> String {
    match name {
        "A" => "A (new device)".to_owned(),
        "B" => "B (existing device)".to_owned(),
        "R" => "R (registrar)".to_owned(),
        "HS" => "HS (homeserver)".to_owned(),
        "?" => "unknown caller".to_owned(),
        other => other.to_owned(),
    }
}

fn is_poll(entry: &Entry) -> bool {
    matches!(entry, Entry::Http { method, status: 304, .. } if method == "GET")
}

/// A run of polls: one exchange per poller and path, in order of first appearance.
fn draw_polls(run: &[TranscriptEntry], out: &mut String) {
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    for e in run {
        if let Entry::Http { actor, path, .. } = &e.entry {
            let path = short_path(path);
            let actor = actor.to_string();
            match groups.iter_mut().find(|(a, p, _)| *a == actor && *p == path) {
                Some(group) => group.2 += 1,
                None => groups.push((actor, path, 1)),
            }
        }
    }
    for (actor, path, count) in groups {
        let who = id(&actor);
        out.push_str(&format!("    {who}->>HS: {}\n", text(&format!("GET {path}"))));
        let answer = if count > 1 { format!("304 (polled {count}×)") } else { "304".to_owned() };
        out.push_str(&format!("    HS-->>{who}: {}\n", text(&answer)));
    }
}

fn draw(entry: &Entry, result: &ScenarioResult, everyone: &str, out: &mut String) {
    let names = &result.names;
    let note = |over: &str, what: &str| format!("    Note over {over}: {}\n", text(what));
    match entry {
        Entry::Http { actor, method, path, status, response, faults, .. } => {
            let who = id(&actor.to_string());
            out.push_str(&format!("    {who}->>HS: {}\n", text(&format!("{method} {}", short_path(path)))));
            let mut answer = status.to_string();
            if let Some(errcode) = response.json().and_then(|j| j.get("errcode")).and_then(|v| v.as_str()) {
                answer.push_str(&format!(" {errcode}"));
            }
            if !faults.is_empty() {
                answer.push_str(&format!(" (fault: {})", faults.join(", ")));
            }
            out.push_str(&format!("    HS-->>{who}: {}\n", text(&answer)));
        }
        Entry::Channel { from, to, message, .. } => {
            let (from, to) = (id(from.letter()), id(to.letter()));
            out.push_str(&format!("    {from}->>{to}: {}\n", text(&channel_summary(message))));
        }
        Entry::Shows { actor, what, .. } => {
            out.push_str(&note(&id(actor.letter()), &format!("shows {}", what.as_str())))
        }
        Entry::Decision { actor, decision } => {
            out.push_str(&note(&id(actor.letter()), &decision_line(decision, names)))
        }
        Entry::Finished { actor, ending } => {
            out.push_str(&note(&id(actor.letter()), &format!("finished {}", ending.line())))
        }
        Entry::Note { actor: Actor::Runner, text: what } => {
            out.push_str(&note(everyone, &format!("runner: {what}")))
        }
        Entry::Note { actor, text: what } => {
            out.push_str(&note(&id(&actor.to_string()), &format!("note: {what}")))
        }
    }
}

fn failure_note(over: &str, failure: &Failure) -> String {
    let level = if failure.level == Level::Should { " (SHOULD)" } else { "" };
    format!(
        "    Note over {over}: {}\n",
        text(&format!("✗ {}{level}: {}", failure.expectation, failure.message))
    )
}

/// The transcript entry a failure points at: the first `#seq` of its message that is
/// in the transcript, else the seq at the start of its last context line.
fn anchor(failure: &Failure, seqs: &BTreeSet<usize>) -> Option<usize> {
    let from_message = failure.message.split('#').skip(1).find_map(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().filter(|seq| seqs.contains(seq))
    });
    from_message.or_else(|| {
        failure.context.iter().rev().find_map(|line| {
            let digits: String = line.trim_start().chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok().filter(|seq| seqs.contains(seq))
        })
    })
}

/// Text safe in a Mermaid statement: one line, at most [`MAX_TEXT`] characters, with
/// `#`, `;`, `<` and `>` as entity codes.
pub fn text(raw: &str) -> String {
    let flat: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let flat = flat.trim();
    let cut: String = if flat.chars().count() > MAX_TEXT {
        flat.chars().take(MAX_TEXT - 1).chain(std::iter::once('…')).collect()
    } else {
        flat.to_owned()
    };
    let mut out = String::with_capacity(cut.len());
    for c in cut.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            other => out.push(other),
        }
    }
    out
}
