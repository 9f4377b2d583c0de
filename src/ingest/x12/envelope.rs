//! Envelope checks: ISA/IEA, GS/GE and ST/SE must nest, their control numbers must match
//! (ISA13 = IEA02, GS06 = GE02, ST02 = SE02) and their counts must be right (SE01 =
//! segments from ST to SE inclusive, GE01 = transaction sets in the group, IEA01 =
//! groups in the interchange). Any failure is a file-level error naming the segment
//! number; values are never quoted (control numbers are not PHI, but the rule is simple
//! to keep when nothing is quoted).

use super::segments::Segment;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("segment {segment} ({id}) is out of place: {why}")]
    OutOfPlace {
        segment: u64,
        id: &'static str,
        why: &'static str,
    },
    #[error(
        "segment {segment} ({id}): its control number does not match the one in segment {opened}"
    )]
    ControlNumber {
        segment: u64,
        id: &'static str,
        opened: u64,
    },
    #[error("segment {segment} ({id}): it counts {declared} {what}, the file has {actual}")]
    Count {
        segment: u64,
        id: &'static str,
        what: &'static str,
        declared: String,
        actual: u64,
    },
    #[error("segment {segment} (ST) is a {kind} transaction set, not an 835")]
    NotRemittance { segment: u64, kind: String },
    #[error("the file ends before {what} opened in segment {opened} is closed (truncated?)")]
    Unclosed { what: &'static str, opened: u64 },
    #[error("the file holds no 835 transaction set")]
    NoTransaction,
}

/// Where the reader is in the envelope.
#[derive(Debug, Default)]
pub struct Envelope {
    enveloped: bool,
    isa: Option<Open>,
    gs: Option<Open>,
    st: Option<Open>,
    groups_in_isa: u64,
    sets_in_gs: u64,
    pub transactions: u64,
    pub interchanges: u64,
}

#[derive(Debug)]
struct Open {
    segment: u64,
    control: Vec<u8>,
    /// Segments so far (ST only).
    count: u64,
}

/// What a segment means for the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Inside a transaction set: map it.
    Body,
    /// ST: a new transaction set starts.
    TransactionStart,
    /// SE: the transaction set ended.
    TransactionEnd,
    /// ISA, GS, GE, IEA.
    Envelope,
}

impl Envelope {
    pub fn new(enveloped: bool) -> Envelope {
        Envelope {
            enveloped,
            ..Envelope::default()
        }
    }

    /// Checks one segment against the envelope state.
    pub fn accept(&mut self, seg: &Segment<'_>) -> Result<Role, EnvelopeError> {
        let n = seg.number;
        if let Some(st) = &mut self.st {
            st.count += 1;
        }
        let out_of_place = |id: &'static str, why: &'static str| EnvelopeError::OutOfPlace {
            segment: n,
            id,
            why,
        };
        match seg.id() {
            b"ISA" => {
                if !self.enveloped || self.isa.is_some() || self.st.is_some() {
                    return Err(out_of_place("ISA", "an interchange is already open"));
                }
                self.isa = Some(open(seg, 13));
                self.groups_in_isa = 0;
                Ok(Role::Envelope)
            }
            b"IEA" => {
                if self.gs.is_some() || self.st.is_some() {
                    return Err(out_of_place(
                        "IEA",
                        "a group or transaction set is still open",
                    ));
                }
                let isa = self
                    .isa
                    .take()
                    .ok_or_else(|| out_of_place("IEA", "no interchange is open"))?;
                check_control(seg, 2, &isa, "IEA")?;
                check_count(seg, 1, self.groups_in_isa, "IEA", "functional groups")?;
                self.interchanges += 1;
                Ok(Role::Envelope)
            }
            b"GS" => {
                if self.enveloped && self.isa.is_none() {
                    return Err(out_of_place("GS", "no interchange is open"));
                }
                if self.gs.is_some() || self.st.is_some() {
                    return Err(out_of_place("GS", "a group is already open"));
                }
                self.gs = Some(open(seg, 6));
                self.sets_in_gs = 0;
                Ok(Role::Envelope)
            }
            b"GE" => {
                if self.st.is_some() {
                    return Err(out_of_place("GE", "a transaction set is still open"));
                }
                let gs = self
                    .gs
                    .take()
                    .ok_or_else(|| out_of_place("GE", "no functional group is open"))?;
                check_control(seg, 2, &gs, "GE")?;
                check_count(seg, 1, self.sets_in_gs, "GE", "transaction sets")?;
                self.groups_in_isa += 1;
                Ok(Role::Envelope)
            }
            b"ST" => {
                if self.st.is_some() {
                    return Err(out_of_place("ST", "a transaction set is already open"));
                }
                if self.enveloped && self.gs.is_none() {
                    return Err(out_of_place("ST", "no functional group is open"));
                }
                if seg.element(1) != b"835" {
                    return Err(EnvelopeError::NotRemittance {
                        segment: n,
                        kind: String::from_utf8_lossy(seg.element(1))
                            .chars()
                            .filter(char::is_ascii_alphanumeric)
                            .take(3)
                            .collect(),
                    });
                }
                let mut st = open(seg, 2);
                st.count = 1;
                self.st = Some(st);
                Ok(Role::TransactionStart)
            }
            b"SE" => {
                let st = self
                    .st
                    .take()
                    .ok_or_else(|| out_of_place("SE", "no transaction set is open"))?;
                check_control(seg, 2, &st, "SE")?;
                check_count(seg, 1, st.count, "SE", "segments")?;
                self.sets_in_gs += 1;
                self.transactions += 1;
                Ok(Role::TransactionEnd)
            }
            _ => {
                if self.st.is_none() {
                    return Err(EnvelopeError::OutOfPlace {
                        segment: n,
                        id: "data",
                        why: "a data segment outside a transaction set (ST … SE)",
                    });
                }
                Ok(Role::Body)
            }
        }
    }

    /// At the end of the file: everything opened must be closed.
    pub fn finish(&self) -> Result<(), EnvelopeError> {
        for (open, what) in [
            (&self.st, "the transaction set (ST)"),
            (&self.gs, "the functional group (GS)"),
            (&self.isa, "the interchange (ISA)"),
        ] {
            if let Some(o) = open {
                return Err(EnvelopeError::Unclosed {
                    what,
                    opened: o.segment,
                });
            }
        }
        if self.transactions == 0 {
            return Err(EnvelopeError::NoTransaction);
        }
        Ok(())
    }
}

fn open(seg: &Segment<'_>, control_element: usize) -> Open {
    Open {
        segment: seg.number,
        control: seg.element(control_element).trim_ascii().to_vec(),
        count: 0,
    }
}

fn check_control(
    seg: &Segment<'_>,
    element: usize,
    opened: &Open,
    id: &'static str,
) -> Result<(), EnvelopeError> {
    if seg.element(element).trim_ascii() != opened.control.as_slice() {
        return Err(EnvelopeError::ControlNumber {
            segment: seg.number,
            id,
            opened: opened.segment,
        });
    }
    Ok(())
}

fn check_count(
    seg: &Segment<'_>,
    element: usize,
    actual: u64,
    id: &'static str,
    what: &'static str,
) -> Result<(), EnvelopeError> {
    let declared = seg.text(element);
    if declared.parse::<u64>().ok() != Some(actual) {
        return Err(EnvelopeError::Count {
            segment: seg.number,
            id,
            what,
            // A count is not a patient value; cap it so garbage is not echoed.
            declared: declared
                .chars()
                .filter(char::is_ascii_digit)
                .take(9)
                .collect(),
            actual,
        });
    }
    Ok(())
}
