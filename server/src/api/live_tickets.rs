//! Tickets for the live feed's websocket. Browsers cannot set `Authorization` on a websocket, and
//! a token in the URL ends up in access logs and browser history; so the dashboard first asks
//! `POST /api/live/ticket` (with the admin token, as any admin call) for a ticket, and opens
//! `GET /api/live?ticket=…` with it. A ticket opens one connection, within [`TICKET_TTL_MS`]; a
//! URL a log kept is worth nothing afterwards.
//!
//! Only the tickets' SHA-256 is kept, at most [`MAX_TICKETS`] at once (expired ones go first,
//! then the oldest).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::crypto::{random_token, sha256_hex};

/// How long a ticket stays valid.
pub const TICKET_TTL_MS: i64 = 30_000;
/// Tickets outstanding at once.
pub const MAX_TICKETS: usize = 256;

#[derive(Debug, Default)]
pub struct LiveTickets {
    /// SHA-256 of each ticket -> when it expires (Unix ms).
    tickets: Mutex<HashMap<String, i64>>,
}

impl LiveTickets {
    /// A new ticket and when it expires.
    pub fn issue(&self, now_ms: i64) -> (String, i64) {
        let ticket = random_token("apx-live-");
        let expires_at = now_ms + TICKET_TTL_MS;
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        if tickets.len() >= MAX_TICKETS {
            tickets.retain(|_, expires| now_ms < *expires);
        }
        if tickets.len() >= MAX_TICKETS {
            if let Some(oldest) = tickets
                .iter()
                .min_by_key(|(_, expires)| **expires)
                .map(|(hash, _)| hash.clone())
            {
                tickets.remove(&oldest);
            }
        }
        tickets.insert(sha256_hex(&ticket), expires_at);
        (ticket, expires_at)
    }

    /// Whether `ticket` is valid now; it is used up either way.
    pub fn redeem(&self, ticket: &str, now_ms: i64) -> bool {
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets
            .remove(&sha256_hex(ticket))
            .is_some_and(|expires| now_ms < expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_opens_once_and_only_while_fresh() {
        let t = LiveTickets::default();
        let (ticket, expires) = t.issue(1_000);
        assert_eq!(expires, 1_000 + TICKET_TTL_MS);
        assert!(!t.redeem("apx-live-guess", 1_001));
        assert!(t.redeem(&ticket, 1_001));
        assert!(!t.redeem(&ticket, 1_002), "single use");
        let (late, _) = t.issue(0);
        assert!(!t.redeem(&late, TICKET_TTL_MS), "expired");
    }

    #[test]
    fn outstanding_tickets_are_bounded() {
        let t = LiveTickets::default();
        let (first, _) = t.issue(0);
        let issued: Vec<String> = (1..=MAX_TICKETS as i64).map(|i| t.issue(i).0).collect();
        assert_eq!(t.tickets.lock().unwrap().len(), MAX_TICKETS);
        assert!(!t.redeem(&first, 10), "the oldest made room");
        assert!(t.redeem(&issued[MAX_TICKETS - 1], 10));
    }
}
