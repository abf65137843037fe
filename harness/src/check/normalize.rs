//! Normalising a transcript into a snapshot: values the protocol makes random by
//! nature become stable placeholders; everything the protocol fixes stays literal.
//!
//! Random by nature: Olm identity and one-time keys (vodozemac draws them itself),
//! signatures over them, secure-channel ciphertexts and IVs, Olm ciphertexts, and the
//! server's port. Everything else comes from the scenario's seed and the virtual
//! clock, so it repeats exactly.

use serde_json::Value;

use mock_homeserver::JournalBody;

use super::transcript::{DeviceNames, Entry, TranscriptEntry};

/// Learned replacements: a random value and its placeholder.
#[derive(Debug, Default, Clone)]
pub struct Placeholders {
    pairs: Vec<(String, String)>,
}

impl Placeholders {
    /// Adds a replacement (longer values are replaced first). A value already known
    /// keeps its placeholder; a second value for a taken placeholder gets a `'`
    /// (`<A.ed25519'>`: e.g. a key a fault served instead of the real one).
    pub fn add(&mut self, value: &str, placeholder: &str) {
        if value.len() < 8 || self.pairs.iter().any(|(v, _)| v == value) {
            return;
        }
        let mut name = placeholder.to_owned();
        while self.pairs.iter().any(|(_, p)| *p == name) {
            name = format!("{}'>", name.trim_end_matches('>'));
        }
        self.pairs.push((value.to_owned(), name));
        self.pairs.sort_by_key(|pair| std::cmp::Reverse(pair.0.len()));
    }

    /// Replaces every learned value inside a string.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, placeholder) in &self.pairs {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), placeholder);
            }
        }
        out
    }

    /// Learns the random values of one transcript entry.
    fn learn(&mut self, entry: &Entry, names: &dyn DeviceNames) {
        if let Entry::Channel { from, message, .. } = entry {
            for field in ["device_key", "verifying_device_key"] {
                if let Some(key) = message.get(field).and_then(Value::as_str) {
                    self.add(key, &format!("<{from}.ed25519>"));
                }
            }
            return;
        }
        let Entry::Http { actor, path, request, response, .. } = entry else { return };
        if path.ends_with("/keys/query") {
            self.learn_served_keys(response, names);
        }
        let Some(body) = request.json() else { return };
        if path.ends_with("/keys/upload") {
            if let Some(keys) = body.pointer("/device_keys/keys").and_then(Value::as_object) {
                for (key_id, value) in keys {
                    let algorithm = key_id.split(':').next().unwrap_or("key");
                    if let Some(value) = value.as_str() {
                        self.add(value, &format!("<{actor}.{algorithm}>"));
                    }
                }
            }
            for field in ["one_time_keys", "fallback_keys"] {
                if let Some(keys) = body.get(field).and_then(Value::as_object) {
                    for (key_id, value) in keys {
                        let id = key_id.split(':').nth(1).unwrap_or("?");
                        if let Some(key) = value.get("key").and_then(Value::as_str) {
                            self.add(key, &format!("<{actor}.otk.{id}>"));
                        }
                    }
                }
            }
        }
    }
}

impl Placeholders {
    /// Learns the device keys a `/keys/query` answer serves for the roles' devices.
    fn learn_served_keys(&mut self, response: &JournalBody, names: &dyn DeviceNames) {
        let Some(users) = response.json().and_then(|b| b.get("device_keys")).and_then(Value::as_object)
        else {
            return;
        };
        for devices in users.values().filter_map(Value::as_object) {
            for (device_id, device) in devices {
                let role = names.name_of(device_id);
                if role == *device_id {
                    continue;
                }
                for (key_id, value) in device.get("keys").and_then(Value::as_object).into_iter().flatten() {
                    let algorithm = key_id.split(':').next().unwrap_or("key");
                    if let Some(value) = value.as_str() {
                        self.add(value, &format!("<{role}.{algorithm}>"));
                    }
                }
            }
        }
    }
}

/// Field names whose values are random by nature wherever they appear.
const RANDOM_FIELDS: [(&str, &str); 3] =
    [("ciphertext", "<ciphertext>"), ("iv", "<iv>"), ("body", "<olm-body>")];

fn scrub(value: &Value, placeholders: &Placeholders, parent: Option<&str>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = placeholders.apply(k);
                    let scrubbed = if parent == Some("signatures_of_entity") {
                        Value::String("<signature>".to_owned())
                    } else if let (Some((_, p)), Value::String(_)) =
                        (RANDOM_FIELDS.iter().find(|(name, _)| name == k), v)
                    {
                        Value::String((*p).to_owned())
                    } else if k == "signatures" {
                        scrub_signatures(v, placeholders)
                    } else {
                        scrub(v, placeholders, Some(k))
                    };
                    (key, scrubbed)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| scrub(v, placeholders, parent)).collect()),
        Value::String(s) => Value::String(placeholders.apply(s)),
        other => other.clone(),
    }
}

fn scrub_signatures(value: &Value, placeholders: &Placeholders) -> Value {
    match value {
        Value::Object(entities) => Value::Object(
            entities
                .iter()
                .map(|(entity, sigs)| {
                    (placeholders.apply(entity), scrub(sigs, placeholders, Some("signatures_of_entity")))
                })
                .collect(),
        ),
        other => scrub(other, placeholders, None),
    }
}

fn body_text(body: &JournalBody, placeholders: &Placeholders) -> Option<String> {
    match body {
        JournalBody::Empty => None,
        JournalBody::Json(value) => Some(scrub(value, placeholders, None).to_string()),
        JournalBody::Note { note } => Some(format!("({note})")),
    }
}

/// The snapshot text of a transcript.
pub fn snapshot(transcript: &[TranscriptEntry], names: &dyn DeviceNames, base_url: &str) -> String {
    let mut placeholders = Placeholders::default();
    placeholders.add(base_url, "<hs>");
    for entry in transcript {
        placeholders.learn(&entry.entry, names);
    }
    let mut out = String::new();
    for entry in transcript {
        let line = placeholders.apply(&entry.entry.line(names));
        out.push_str(&format!("#{:<3} {:>7}ms  {line}\n", entry.seq, entry.at_ms));
        match &entry.entry {
            Entry::Http { query, request, response, faults, .. } => {
                if let Some(query) = query {
                    out.push_str(&format!("      query: {}\n", placeholders.apply(query)));
                }
                if let Some(text) = body_text(request, &placeholders) {
                    out.push_str(&format!("      request: {text}\n"));
                }
                if let Some(text) = body_text(response, &placeholders) {
                    out.push_str(&format!("      response: {text}\n"));
                }
                for fault in faults {
                    out.push_str(&format!("      fault: {}\n", placeholders.apply(fault)));
                }
            }
            Entry::Channel { message, encrypted, .. } => {
                let how = if *encrypted { "encrypted" } else { "cleartext" };
                out.push_str(&format!("      {how}: {}\n", scrub(message, &placeholders, None)));
            }
            Entry::Shows { value, .. } => {
                out.push_str(&format!("      value: {}\n", placeholders.apply(value)))
            }
            Entry::Decision { .. } | Entry::Finished { .. } | Entry::Note { .. } => {}
        }
    }
    out
}
