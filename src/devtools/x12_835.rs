//! `payerwatch generate --format x12-835`: the generator's claims written as an X12 835
//! (005010X221A1) instead of a CSV, with the same injected changes and the same truth, so
//! every analytics test can run on 835 input.
//!
//! The CSV generator runs first into a temporary file; its rows are then regrouped into
//! transaction sets by (payer, decision date) — one BPR16 date and one N1*PR payer per
//! set, as in real remittances — and written one service line (SVC) per claim. Malformed
//! CSV rows become their 835 equivalents (an empty N1*PR name, an empty SVC01 code, an
//! unreadable DTM*050 or AMT*B6, a decision date in the future); PHI, which an 835 has no
//! free-text element for, goes into the payer name, so the truth moves those rejections
//! from `denial_reason_text` to `payer`. Patient elements (CLP01, CLP07, NM1*QC) are
//! filled with synthetic values: the importer must skip them.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Seek, Write};

use super::generate::{GenOptions, GenTruth, generate};
use crate::domain::claim::{Outcome, parse_date};

/// Buffered claim segments before the groups are written out.
const FLUSH_BYTES: usize = 16 * 1024 * 1024;

/// Texts the CSV generator writes as PHI (see `generate`); they become payer names here.
const PHI_TEXTS: [&str; 3] = [
    "Member SSN 123-45-6789 on file",
    "Called patient Jennifer about coverage",
    "Call back at (555) 867-5309",
];

/// Writes the 835 and returns the generator's truth (adjusted as the module doc says).
pub fn generate_835<W: Write>(opts: &GenOptions, out: W) -> io::Result<GenTruth> {
    let mut csv_file = tempfile::tempfile()?;
    let mut truth = generate(opts, io::BufWriter::new(&mut csv_file))?;
    csv_file.rewind()?;
    let phi_rows = Writer::new(out).convert(BufReader::new(csv_file))?;
    let by_column = &mut truth.counts.expected_rejected_by_column;
    if let Some(n) = by_column.get_mut("denial_reason_text") {
        *n -= phi_rows.min(*n);
    }
    *by_column.entry("payer").or_default() += phi_rows;
    Ok(truth)
}

struct Writer<W: Write> {
    out: W,
    groups: HashMap<(String, String), Vec<u8>>,
    buffered: usize,
    claims: u64,
    sets: u64,
}

impl<W: Write> Writer<W> {
    fn new(out: W) -> Self {
        Writer {
            out,
            groups: HashMap::new(),
            buffered: 0,
            claims: 0,
            sets: 0,
        }
    }

    /// Reads the generated CSV (header first) and writes the interchange; returns the
    /// number of PHI rows moved into payer names.
    fn convert<R: BufRead>(mut self, csv: R) -> io::Result<u64> {
        self.out.write_all(
            b"ISA*00*          *00*          *ZZ*PAYERWATCHGEN  *ZZ*PAYERWATCH     *261122*1200*^*00501*000000001*0*P*:~\n\
              GS*HP*PAYERWATCHGEN*PAYERWATCH*20261122*1200*1*X*005010X221A1~\n",
        )?;
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(csv);
        let mut rec = csv::StringRecord::new();
        let mut phi_rows = 0;
        while rdr.read_record(&mut rec).map_err(io::Error::other)? {
            let cell = |i: usize| rec.get(i).unwrap_or("");
            let (mut payer, cpt, sub, dec, outcome, amount, code, text) = (
                cell(0),
                cell(1),
                cell(2),
                cell(3),
                cell(4),
                cell(5),
                cell(6),
                cell(7),
            );
            if PHI_TEXTS.contains(&text) {
                payer = text;
                phi_rows += 1;
            }
            let key = (payer.to_owned(), x12_date(dec));
            let buf = self.groups.entry(key).or_default();
            let before = buf.len();
            self.claims += 1;
            write_claim(
                buf,
                self.claims,
                cpt,
                &x12_date(sub),
                Outcome::normalize(outcome).unwrap_or(Outcome::Other),
                amount,
                code,
            )?;
            self.buffered += buf.len() - before;
            if self.buffered >= FLUSH_BYTES {
                self.flush_groups()?;
            }
        }
        self.flush_groups()?;
        writeln!(self.out, "GE*{}*1~\nIEA*1*000000001~", self.sets)?;
        self.out.flush()?;
        Ok(phi_rows)
    }

    /// One transaction set per buffered (payer, decision date) group, in a stable order.
    fn flush_groups(&mut self) -> io::Result<()> {
        let mut groups: Vec<_> = self.groups.drain().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        for ((payer, decided), body) in groups {
            self.sets += 1;
            let control = format!("{:04}", self.sets % 1_000_000_000);
            let header = format!(
                "ST*835*{control}*005010X221A1~\n\
                 BPR*I*0*C*NON************{decided}~\n\
                 TRN*1*{}*1512345678~\n\
                 N1*PR*{payer}~\n\
                 N1*PE*PAYERWATCH CLINIC*XX*1234567893~\n\
                 LX*1~\n",
                self.sets
            );
            // ST..LX is 6 segments, SE is 1; each claim line counts its own.
            let body_segments = body.iter().filter(|&&b| b == b'~').count();
            self.out.write_all(header.as_bytes())?;
            self.out.write_all(&body)?;
            writeln!(self.out, "SE*{}*{control}~", 6 + body_segments + 1)?;
        }
        self.buffered = 0;
        Ok(())
    }
}

/// One claim with one service line.
fn write_claim(
    buf: &mut Vec<u8>,
    n: u64,
    cpt: &str,
    submitted: &str,
    outcome: Outcome,
    amount: &str,
    code: &str,
) -> io::Result<()> {
    let allowed = cents(amount);
    // Unreadable amounts keep a plausible charge; the AMT*B6 carries the bad value.
    let base = allowed.filter(|c| *c >= 0).unwrap_or(10_000);
    // Every fifth line carries a procedure modifier (stored on its own; the CSV twin has
    // no column for it, so nothing the two share changes).
    let modifier = if n.is_multiple_of(5) { ":25" } else { "" };
    let (status, charge, paid) = match outcome {
        Outcome::Paid => ("1", base + base / 10, base),
        Outcome::Denied => ("4", base, 0),
        Outcome::Other => ("2", base, 0),
    };
    writeln!(
        buf,
        "CLP*PCN{n:09}*{status}*{}*{}**12*PCC{n:012}*11~\n\
         NM1*QC*1*DOE*JANE****MI*MEM{n:09}~\n\
         DTM*050*{submitted}~\n\
         SVC*HC:{cpt}{modifier}*{}*{}**1~\n\
         DTM*472*{submitted}~",
        money(charge),
        money(paid),
        money(charge),
        money(paid),
    )?;
    match outcome {
        Outcome::Paid => writeln!(buf, "CAS*CO*45*{}~", money(charge - paid))?,
        Outcome::Denied => {
            let (group, carc) = code.split_once('-').unwrap_or(("CO", code));
            writeln!(buf, "CAS*{group}*{carc}*{}~", money(charge))?;
        }
        Outcome::Other => {}
    }
    if !amount.is_empty() {
        writeln!(buf, "AMT*B6*{amount}~")?;
    }
    Ok(())
}

/// CCYYMMDD from any of the CSV's date styles; an unreadable date keeps its digits, so
/// the importer sees an invalid date too.
fn x12_date(cell: &str) -> String {
    match parse_date(cell) {
        Some(d) => d.format("%Y%m%d").to_string(),
        None => cell.chars().filter(char::is_ascii_alphanumeric).collect(),
    }
}

fn cents(s: &str) -> Option<i64> {
    crate::ingest::x12::remit::cents(s)
}

fn money(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::x12::{self, remit::Emit};

    #[test]
    fn the_835_holds_the_csv_claims_one_line_each() {
        let opts = GenOptions {
            rows: 2_000,
            ..GenOptions::default()
        };
        let mut out = Vec::new();
        let truth = generate_835(&opts, &mut out).expect("generates");
        let mut lines = 0u64;
        let mut denied = 0u64;
        let summary = x12::read(&out[..], 1_000_000, None, |e| {
            if let Emit::Line(l) = e {
                lines += 1;
                denied += u64::from(l.outcome == Some(x12::remit::LineOutcome::Denied));
            }
            true
        })
        .expect("the generated file passes the envelope checks");
        assert_eq!(lines, truth.counts.rows);
        assert_eq!(summary.counts.claims, truth.counts.rows);
        assert_eq!(denied, truth.counts.outcomes_all.denied);
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.starts_with("ISA*"));
    }
}
