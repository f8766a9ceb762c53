//! OCR accuracy and time on code pictures drawn like the simulator's (DejaVu Sans Mono
//! 40 px), with the real Debian `tesseract`.
//!
//! `cargo bench -p tsgate-mailbox --bench ocr` reads `CODES` random codes (default 200,
//! drawn from `SEED`, default 1) and prints how many were missed (the right code not among
//! those returned), how many came second, how many codes a picture gave and the time per
//! picture. A miss means the doctor copies the code by hand.

#[allow(dead_code)]
#[path = "../tests/support/mail.rs"]
mod mail;

use std::time::{Duration, Instant};

use tsgate_mailbox::ocr::Ocr;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A random version-4-shaped UUID from a 64-bit linear congruential generator.
fn random_code(state: &mut u64) -> String {
    let mut hex = String::with_capacity(32);
    for _ in 0..32 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let digit = ((*state >> 33) % 16) as u32;
        hex.push(char::from_digit(digit, 16).unwrap_or('0'));
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn main() {
    let count = env_number("CODES", 200);
    let mut state = env_number("SEED", 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ocr = Ocr::new("tesseract", Duration::from_secs(30));
    runtime
        .block_on(ocr.check())
        .unwrap_or_else(|e| panic!("tesseract is needed: apt-get install -y tesseract-ocr ({e})"));
    let (mut missed, mut second, mut returned) = (0u64, 0u64, 0u64);
    let mut times = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let code = random_code(&mut state);
        let png = mail::render_png(&code);
        let start = Instant::now();
        let codes = runtime
            .block_on(ocr.read_codes(&png))
            .expect("tesseract runs");
        times.push(start.elapsed());
        returned += codes.len() as u64;
        match codes.iter().position(|c| c.expose_secret() == code) {
            None => {
                missed += 1;
                // Random test codes, not secrets: shown so that a miss can be studied.
                let read: Vec<&str> = codes.iter().map(|c| c.expose_secret()).collect();
                println!("  missed {code}: read {read:?}");
            }
            Some(0) => {}
            Some(_) => second += 1,
        }
    }
    times.sort();
    let total: Duration = times.iter().sum();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "OCR of {count} code pictures (DejaVu Sans Mono 40 px), seed {}",
        env_number("SEED", 1)
    );
    println!(
        "  missed {missed} ({:.1}%), right code not first {second}, codes per picture {:.2}",
        missed as f64 * 100.0 / count as f64,
        returned as f64 / count as f64
    );
    println!(
        "  time per picture: mean {:.0} ms, median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        total.as_secs_f64() * 1000.0 / count as f64,
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        at(1.0).as_secs_f64() * 1000.0
    );
}
