//! The open-file limit. Every client connection and every upstream connection is a descriptor,
//! and many systems still start processes with a soft limit of 1,024: far fewer than the
//! thousands of idle keep-alive connections and open streams a gateway is expected to hold. Like
//! nginx's `worker_rlimit_nofile` (and Go's runtime, by default), api-proxy raises its soft limit
//! to the hard limit the system allows at start-up.

/// Raises the soft open-file limit to the hard limit; returns the limit now in force (`None` where
/// the platform has no such limit or it could not be read).
pub fn raise_to_hard_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(u64::MAX).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let raised = raise_to_hard_limit().expect("a unix limit");
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert_eq!(soft, raised);
        // macOS caps the soft limit below an unlimited hard limit; elsewhere they meet.
        assert!(soft == hard || cfg!(target_os = "macos"), "{soft} < {hard}");
    }
}
