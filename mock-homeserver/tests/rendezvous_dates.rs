//! The rendezvous dates (`Expires`, `Last-Modified`) follow the server's clock: the
//! wall clock's calendar in real time, a fixed calendar under a virtual clock.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mock_homeserver::{Clock, Homeserver, ManualClock, Profile, Request, FIXED_ORIGIN_UNIX_MS};

const CREATE: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous";
const TTL_S: u64 = 60;

fn create(server: &Homeserver) -> (String, String) {
    let answer = server.handle(Request::new("POST", CREATE).with_header("content-type", "application/json"));
    assert_eq!(answer.status, 201);
    let header = |name| answer.header(name).unwrap_or_else(|| panic!("{name} header")).to_owned();
    (header("last-modified"), header("expires"))
}

/// Unix seconds of an IMF-fixdate such as `Mon, 01 Jan 2024 00:01:00 GMT`.
fn parse_http_date(text: &str) -> u64 {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert_eq!((parts.len(), parts[5]), (6, "GMT"), "IMF-fixdate: {text}");
    let day: u64 = parts[1].parse().expect("day");
    let month = MONTHS.iter().position(|m| *m == parts[2]).expect("month") as u64 + 1;
    let year: u64 = parts[3].parse().expect("year");
    let hms: Vec<u64> = parts[4].split(':').map(|p| p.parse().expect("time")).collect();
    // Days from civil (Howard Hinnant), for years after 1970.
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

fn unix_now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

#[test]
fn in_real_time_the_dates_are_the_wall_clock_s() {
    let before = unix_now_s();
    let server = Homeserver::new(Profile::default(), 1);
    let (last_modified, expires) = create(&server);
    let after = unix_now_s();
    let last_modified = parse_http_date(&last_modified);
    let expires = parse_http_date(&expires);
    assert!(
        (before..=after).contains(&last_modified),
        "Last-Modified {last_modified} is not between {before} and {after}"
    );
    assert!(
        (before + TTL_S..=after + TTL_S).contains(&expires),
        "Expires {expires} is not the creation time plus the 60 s TTL ({before}..{after})"
    );
}

#[test]
fn under_a_virtual_clock_the_dates_are_fixed() {
    let clock = ManualClock::new();
    clock.advance_ms(2_500);
    let server = Homeserver::with_clock(Profile::default(), 1, Arc::new(clock));
    assert_eq!(
        create(&server),
        ("Mon, 01 Jan 2024 00:00:02 GMT".to_owned(), "Mon, 01 Jan 2024 00:01:02 GMT".to_owned())
    );
    assert_eq!(parse_http_date("Mon, 01 Jan 2024 00:00:00 GMT") * 1000, FIXED_ORIGIN_UNIX_MS);
}

/// A clock whose calendar starts wherever the caller says.
#[derive(Debug)]
struct ClockAt(u64);

impl Clock for ClockAt {
    fn now_ms(&self) -> u64 {
        1_000
    }

    fn origin_unix_ms(&self) -> u64 {
        self.0
    }
}

#[test]
fn the_dates_count_from_the_clock_s_origin() {
    // 2030-06-15T12:00:00Z.
    let origin_s = parse_http_date("Sat, 15 Jun 2030 12:00:00 GMT");
    let server = Homeserver::with_clock(Profile::default(), 1, Arc::new(ClockAt(origin_s * 1000)));
    assert_eq!(
        create(&server),
        ("Sat, 15 Jun 2030 12:00:01 GMT".to_owned(), "Sat, 15 Jun 2030 12:01:01 GMT".to_owned())
    );
}
