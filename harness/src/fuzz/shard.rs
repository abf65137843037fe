//! Which seeds a campaign runs: from `--seed` on, or one shard of a seed range
//! (`--seed-range 0..1000000 --shard 3/8`), so that a CI matrix spreads a long
//! campaign over machines with no coordinator: shard `i` of `n` takes every `n`-th
//! seed of the range, starting at the `i`-th.

/// The seeds of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    /// The first seed of the range.
    pub start: u64,
    /// One past the last seed (`None`: unbounded).
    pub end: Option<u64>,
    /// This shard, from 0.
    pub index: u64,
    /// The number of shards.
    pub count: u64,
}

impl Seeds {
    /// Every seed from `start` on.
    pub fn from(start: u64) -> Self {
        Seeds { start, end: None, index: 0, count: 1 }
    }

    /// Shard `index` of `count` of `start..end`.
    pub fn shard(start: u64, end: u64, index: u64, count: u64) -> Result<Self, String> {
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: the shard must be below the count, from 0"));
        }
        if end <= start {
            return Err(format!("seed range {start}..{end} is empty"));
        }
        Ok(Seeds { start, end: Some(end), index, count })
    }

    /// The `n`-th seed of this shard (from 0), if the range has it.
    pub fn nth(&self, n: u64) -> Option<u64> {
        let seed = self.start.checked_add(self.index)?.checked_add(n.checked_mul(self.count)?)?;
        match self.end {
            Some(end) if seed >= end => None,
            _ => Some(seed),
        }
    }

    /// How many seeds the shard has, when the range is bounded.
    pub fn len(&self) -> Option<u64> {
        let end = self.end?;
        let first = self.start + self.index;
        Some(if first >= end { 0 } else { (end - first).div_ceil(self.count) })
    }

    /// Whether the shard has no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// Parses `A..B`.
pub fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text.split_once("..").ok_or_else(|| format!("`{text}`: a seed range is A..B"))?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("`{text}`: {e}"));
    Ok((number(a)?, number(b)?))
}

/// Parses `i/n`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text.split_once('/').ok_or_else(|| format!("`{text}`: a shard is i/n"))?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("`{text}`: {e}"));
    Ok((number(i)?, number(n)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_range_without_overlap_or_gap() {
        let (start, end) = parse_range("10..33").unwrap();
        let mut seen = Vec::new();
        for i in 0..4 {
            let shard = Seeds::shard(start, end, i, 4).unwrap();
            let seeds: Vec<u64> = (0..).map_while(|n| shard.nth(n)).collect();
            assert_eq!(seeds.len() as u64, shard.len().unwrap());
            seen.extend(seeds);
        }
        seen.sort_unstable();
        assert_eq!(seen, (10..33).collect::<Vec<_>>());
        assert_eq!(parse_shard("2/8").unwrap(), (2, 8));
        assert!(Seeds::shard(0, 10, 8, 8).is_err());
        assert!(parse_range("5").is_err());
        assert_eq!(Seeds::from(7).nth(3), Some(10));
    }
}
