//! Password hashing with argon2id, off the async runtime.
//!
//! Hashing is deliberately slow (tens of milliseconds of CPU). It runs on the blocking pool, and
//! semaphores bound how many hashes run at once so a flood queues up instead of taking every core
//! from the requests that need none. Verifying logins and hashing new passwords (sign-ups,
//! password changes) have separate permits, so a flood of either cannot starve the other.

use std::sync::{Arc, LazyLock};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

/// A hash to verify against when the user does not exist, so that unknown usernames take as long
/// as wrong passwords and cannot be told apart by timing.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"swatter-dummy-password", &SaltString::generate(&mut OsRng))
        .expect("hash dummy password")
        .to_string()
});

/// Makes freed argon2 buffers go back to the operating system at once.
///
/// Every hash allocates its memory cost (19 MiB) and frees it. glibc serves such large blocks with
/// `mmap` at first, but raises its threshold after the first free and then keeps them in the
/// blocking threads' arenas: identity's resident memory climbed to ~240 MiB under a login flood.
/// A fixed 1 MiB threshold keeps large blocks on `mmap`, so memory falls back after each hash.
pub fn return_hash_memory_promptly() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any hashing starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Hashes and verifies passwords with bounded parallelism.
#[derive(Clone)]
pub struct PasswordHasherPool {
    new_hashes: Arc<Semaphore>,
    verifications: Arc<Semaphore>,
}

impl PasswordHasherPool {
    /// At most `concurrency` verifications and `concurrency` new hashes at a time (at least one
    /// of each).
    pub fn new(concurrency: usize) -> Self {
        PasswordHasherPool {
            new_hashes: Arc::new(Semaphore::new(concurrency.max(1))),
            verifications: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Hashes a password (PHC string, argon2id with a random salt).
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let _permit = self.new_hashes.acquire().await?;
        tokio::task::spawn_blocking(move || {
            let _timer = HashTimer::start("hash");
            Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))
        })
        .await?
    }

    /// Whether `password` matches `hash`. With no hash (unknown user) it still spends the time of
    /// a verification and answers `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> anyhow::Result<bool> {
        let _permit = self.verifications.acquire().await?;
        tokio::task::spawn_blocking(move || {
            let _timer = HashTimer::start("verify");
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            let matches = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(known && matches)
        })
        .await?
    }
}

/// Records `swatter_password_hash_duration_seconds{op}` when dropped: the CPU time of one hash
/// or verification, without the wait for a permit.
/// Describes the password metric (its `# HELP` line). Call once the recorder is installed.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        "swatter_password_hash_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one argon2 hash or verification (without the wait for a free hasher), by op"
    );
}

struct HashTimer {
    op: &'static str,
    started: std::time::Instant,
}

impl HashTimer {
    fn start(op: &'static str) -> Self {
        HashTimer {
            op,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for HashTimer {
    fn drop(&mut self) {
        metrics::histogram!("swatter_password_hash_duration_seconds", "op" => self.op)
            .record(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let pool = PasswordHasherPool::new(1);
        let hash = pool.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            pool.verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!pool.verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(
            !pool
                .verify("swatter-dummy-password".into(), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn busy_hashing_of_new_passwords_does_not_hold_up_logins_nor_the_reverse() {
        let pool = PasswordHasherPool::new(1);
        let hash = pool.hash("correct horse".into()).await.unwrap();
        let limit = std::time::Duration::from_secs(10);

        let all_new_hash_permits = pool.new_hashes.clone().acquire_owned().await.unwrap();
        let verified = tokio::time::timeout(limit, pool.verify("correct horse".into(), Some(hash)));
        assert!(
            verified
                .await
                .expect("a login waited for sign-ups")
                .unwrap()
        );
        drop(all_new_hash_permits);

        let _all_verification_permits = pool.verifications.clone().acquire_owned().await.unwrap();
        let hashed = tokio::time::timeout(limit, pool.hash("another horse".into()));
        assert!(hashed.await.expect("a sign-up waited for logins").is_ok());
    }
}
