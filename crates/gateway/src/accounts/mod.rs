//! Accounts: who may bind, from where, how, and how many times at once.
//!
//! Owns the `[user:*]` accounts read from [`Config`] (with their group's
//! defaults already applied), password checks (argon2 PHC strings verified
//! on blocking threads, a few at a time, with a cache of the last good
//! password; plain text compared in constant time), the count of failed
//! binds per client address with its cool-down, and the count of live binds
//! per user and for the whole server. It answers a bind with a
//! [`BindGrant`], which holds the bind's slot until dropped, or a
//! [`BindRefusal`] carrying the SMPP status to send (shared/DESIGN.md, "SMPP
//! front end: status codes").
//!
//! It knows nothing of the store or the network: the SMPP server calls
//! [`Accounts::bind`] with what the peer sent and where it came from, and
//! logs and counts the outcome. Passwords never reach a log or a `Debug`
//! output from here.

mod cooldown;
mod password;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use smpp::CommandStatus;
use smpp_session::BindMode;
use tokio::sync::{Semaphore, watch};

use crate::config::{Config, Password, User};
use cooldown::BindCooldown;
pub use cooldown::client_address;
use password::{CacheKey, Check, Digest};

/// Users, their live binds, and failed binds per client; cheap to clone
/// (all clones share one state).
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    slots: Arc<Mutex<Slots>>,
    cooldown: Arc<Mutex<BindCooldown>>,
    /// Bounds the argon2 verifications running at once.
    verify_permits: Arc<Semaphore>,
    cache_key: Option<CacheKey>,
    verifications: Arc<AtomicU64>,
}

/// What one configuration says; replaced whole on reload.
struct Snapshot {
    accounts: HashMap<String, Arc<Account>>,
    /// Checked against for an unknown system_id (or a wrong plain-text
    /// password) so that it costs what a wrong argon2 password costs; None
    /// when no user has a usable PHC string.
    dummy: Option<Arc<str>>,
    max_binds: usize,
    fail_limit: u32,
    fail_cooldown: Duration,
}

struct Account {
    user: Arc<User>,
    check: Check,
    /// The digest of the last password that verified (PHC users only).
    cache: Mutex<Option<Digest>>,
}

/// Live binds.
#[derive(Debug, Default)]
struct Slots {
    per_user: HashMap<String, usize>,
    total: usize,
    /// Per user with live binds: turns true when a reload removes the
    /// user (its binds then close).
    removed: HashMap<String, watch::Sender<bool>>,
}

/// Why a bind was refused; also the `reason` label of
/// `tern_bind_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// Too many failed binds from the client's address lately; the password
    /// was not checked.
    CoolDown,
    /// Unknown system_id or wrong password (not told apart).
    BadCredentials,
    /// The user may not bind in this mode.
    ModeNotAllowed,
    /// The client's address is not in the user's `allowed_ips`.
    IpNotAllowed,
    /// The user has `max_binds` binds already.
    UserMaxBinds,
    /// The server has `[smpp-server] max_binds` binds already.
    ServerMaxBinds,
}

impl RefusalReason {
    /// The metric label: cooldown, credentials, mode, ip, user_max_binds,
    /// server_max_binds.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::CoolDown => "cooldown",
            RefusalReason::BadCredentials => "credentials",
            RefusalReason::ModeNotAllowed => "mode",
            RefusalReason::IpNotAllowed => "ip",
            RefusalReason::UserMaxBinds => "user_max_binds",
            RefusalReason::ServerMaxBinds => "server_max_binds",
        }
    }

    /// The bind_*_resp status: ESME_RINVPASWD for bad credentials,
    /// ESME_RBINDFAIL for everything else.
    pub fn status(self) -> CommandStatus {
        match self {
            RefusalReason::BadCredentials => CommandStatus::ESME_RINVPASWD,
            _ => CommandStatus::ESME_RBINDFAIL,
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused bind: the status to answer with, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindRefusal {
    /// For the bind_*_resp.
    pub status: CommandStatus,
    /// Why, for logs and `tern_bind_failures_total{reason}`.
    pub reason: RefusalReason,
}

impl From<RefusalReason> for BindRefusal {
    fn from(reason: RefusalReason) -> Self {
        BindRefusal {
            status: reason.status(),
            reason,
        }
    }
}

impl fmt::Display for BindRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bind refused: {}", self.reason)
    }
}

impl std::error::Error for BindRefusal {}

/// An accepted bind. Held for as long as the bind lives; dropping it frees
/// the user's and the server's bind slot.
#[derive(Debug)]
pub struct BindGrant {
    /// The user as configured when the bind was granted.
    pub user: Arc<User>,
    /// The mode granted (the one asked for).
    pub mode: BindMode,
    removed: watch::Receiver<bool>,
    _slot: Slot,
}

impl BindGrant {
    /// Turns true when a reload removes the bind's user: the session
    /// then finishes what it accepted and unbinds.
    pub fn removed(&self) -> watch::Receiver<bool> {
        self.removed.clone()
    }
}

/// One live bind's place in [`Slots`]; released on drop.
struct Slot {
    slots: Arc<Mutex<Slots>>,
    system_id: String,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("system_id", &self.system_id)
            .finish()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut slots = lock(&self.slots);
        slots.total = slots.total.saturating_sub(1);
        if let Some(n) = slots.per_user.get_mut(&self.system_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                slots.per_user.remove(&self.system_id);
                slots.removed.remove(&self.system_id);
            }
        }
    }
}

/// The outcome of a password check.
enum Verdict {
    Good,
    Bad,
    /// The client went into a cool-down while this check waited its turn.
    CoolDown,
}

/// Where a failed check is counted, from the blocking thread itself so
/// that it counts even if the bind is abandoned meanwhile.
struct FailureRecord {
    cooldowns: Arc<Mutex<BindCooldown>>,
    peer: IpAddr,
    now: Instant,
    limit: u32,
    cooldown: Duration,
}

impl FailureRecord {
    fn record(&self) {
        lock(&self.cooldowns).record_failure(self.peer, self.now, self.limit, self.cooldown);
    }
}

impl Accounts {
    /// Accounts for `config`'s users. Verifies at most as many argon2
    /// hashes at once as there are cores.
    pub fn new(config: &Config) -> Accounts {
        let permits = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Accounts {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(Snapshot::build(config, None))),
                slots: Arc::default(),
                cooldown: Arc::default(),
                verify_permits: Arc::new(Semaphore::new(permits)),
                cache_key: CacheKey::random(),
                verifications: Arc::default(),
            }),
        }
    }

    /// Take `config`'s users (SIGHUP). Live binds stay and are still
    /// counted, also against new limits; failed-bind counts stay; a cached
    /// password is kept only for a user whose configured password is
    /// unchanged.
    pub fn reload(&self, config: &Config) {
        let mut current = self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let next = Snapshot::build(config, Some(&current));
        *current = Arc::new(next);
        drop(current);
        // The binds of users the new configuration removes close.
        let mut slots = lock(&self.inner.slots);
        let gone: Vec<String> = slots
            .removed
            .keys()
            .filter(|u| !config.users.contains_key(*u))
            .cloned()
            .collect();
        for u in gone {
            if let Some(tx) = slots.removed.remove(&u) {
                tx.send_replace(true);
            }
        }
    }

    /// The users whose password is configured in plain text, by name, for
    /// a warning at start. Never the passwords.
    pub fn plain_text_users(&self) -> Vec<String> {
        self.users_where(|a| matches!(a.check, Check::Plain(_)))
    }

    /// The users whose password looks like a PHC string but does not parse:
    /// they cannot bind. By name, for a warning at start.
    pub fn bad_hash_users(&self) -> Vec<String> {
        self.users_where(|a| matches!(a.check, Check::Invalid))
    }

    fn users_where(&self, f: impl Fn(&Account) -> bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .snapshot()
            .accounts
            .iter()
            .filter(|(_, a)| f(a))
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// A user as currently configured.
    pub fn user(&self, system_id: &str) -> Option<Arc<User>> {
        self.snapshot()
            .accounts
            .get(system_id)
            .map(|a| a.user.clone())
    }

    /// A user's live binds.
    pub fn binds(&self, system_id: &str) -> usize {
        lock(&self.inner.slots)
            .per_user
            .get(system_id)
            .copied()
            .unwrap_or(0)
    }

    /// All users' live binds.
    pub fn total_binds(&self) -> usize {
        lock(&self.inner.slots).total
    }

    /// How many argon2 verifications have run (cache hits run none).
    pub fn password_verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Check a bind from `peer` at `now`, in this order: the peer's
    /// cool-down (ESME_RBINDFAIL, password unchecked); system_id and
    /// password (ESME_RINVPASWD, counted as a failure for the peer); bind
    /// mode, `allowed_ips`, the user's `max_binds`, the server's
    /// `max_binds` (ESME_RBINDFAIL; a `max_binds` of 0 allows no bind). On
    /// success the bind holds a slot until the grant is dropped. A
    /// `bind_fail_limit` of 0 turns the cool-down off.
    pub async fn bind(
        &self,
        system_id: &[u8],
        password: &[u8],
        peer: IpAddr,
        mode: BindMode,
        now: Instant,
    ) -> Result<BindGrant, BindRefusal> {
        let peer = peer.to_canonical();
        let snapshot = self.snapshot();
        let account = self
            .check_credentials(&snapshot, system_id, password, peer, now)
            .await?;
        let user = &account.user;

        let modes = user.bind_modes;
        let allowed = match mode {
            BindMode::Transmitter => modes.tx,
            BindMode::Receiver => modes.rx,
            BindMode::Transceiver => modes.trx,
        };
        if !allowed {
            return Err(RefusalReason::ModeNotAllowed.into());
        }
        if !user.allowed_ips.iter().any(|net| net.contains(&peer)) {
            return Err(RefusalReason::IpNotAllowed.into());
        }

        let user_max = usize::try_from(user.max_binds).unwrap_or(usize::MAX);
        let removed = {
            let mut slots = lock(&self.inner.slots);
            let mine = slots.per_user.get(&user.system_id).copied().unwrap_or(0);
            if mine >= user_max {
                return Err(RefusalReason::UserMaxBinds.into());
            }
            if slots.total >= snapshot.max_binds {
                return Err(RefusalReason::ServerMaxBinds.into());
            }
            slots.total += 1;
            *slots.per_user.entry(user.system_id.clone()).or_insert(0) += 1;
            slots
                .removed
                .entry(user.system_id.clone())
                .or_insert_with(|| watch::channel(false).0)
                .subscribe()
        };
        Ok(BindGrant {
            user: user.clone(),
            mode,
            removed,
            _slot: Slot {
                slots: self.inner.slots.clone(),
                system_id: user.system_id.clone(),
            },
        })
    }

    /// Check credentials that do not bind (the HTTP API) from `peer` at
    /// `now`: the peer's cool-down, system_id and password (a failure
    /// counts for the peer, as a bind's does), and `allowed_ips`. The
    /// same work and the same answers as a bind's first steps; no slot
    /// is held.
    pub async fn authenticate(
        &self,
        system_id: &[u8],
        password: &[u8],
        peer: IpAddr,
        now: Instant,
    ) -> Result<Arc<User>, BindRefusal> {
        let peer = peer.to_canonical();
        let snapshot = self.snapshot();
        let account = self
            .check_credentials(&snapshot, system_id, password, peer, now)
            .await?;
        if !account
            .user
            .allowed_ips
            .iter()
            .any(|net| net.contains(&peer))
        {
            return Err(RefusalReason::IpNotAllowed.into());
        }
        Ok(account.user.clone())
    }

    /// The cool-down, then system_id and password: the account, or why
    /// not.
    async fn check_credentials(
        &self,
        snapshot: &Snapshot,
        system_id: &[u8],
        password: &[u8],
        peer: IpAddr,
        now: Instant,
    ) -> Result<Arc<Account>, BindRefusal> {
        if lock(&self.inner.cooldown).cooling_down(peer, now) {
            return Err(RefusalReason::CoolDown.into());
        }
        let account = std::str::from_utf8(system_id)
            .ok()
            .and_then(|s| snapshot.accounts.get(s))
            .cloned();
        let failure = FailureRecord {
            cooldowns: self.inner.cooldown.clone(),
            peer,
            now,
            limit: snapshot.fail_limit,
            cooldown: snapshot.fail_cooldown,
        };
        match self
            .check_password(snapshot, account.as_deref(), system_id, password, failure)
            .await
        {
            Verdict::Good => {}
            Verdict::Bad => return Err(RefusalReason::BadCredentials.into()),
            Verdict::CoolDown => return Err(RefusalReason::CoolDown.into()),
        }
        // No password is good for an unknown user: None is unreachable.
        account.ok_or_else(|| RefusalReason::BadCredentials.into())
    }

    /// Whether `password` is `account`'s. Every failure costs one argon2
    /// verification when any user has a PHC string (against the dummy when
    /// there is nothing else to check), so a failure's timing does not tell
    /// an unknown user from a known one.
    async fn check_password(
        &self,
        snapshot: &Snapshot,
        account: Option<&Account>,
        system_id: &[u8],
        password: &[u8],
        failure: FailureRecord,
    ) -> Verdict {
        // Computed for every bind, known user or not: the same work.
        let tag = self
            .inner
            .cache_key
            .as_ref()
            .and_then(|k| k.tag(system_id, password));
        let (phc, can_match) = match account.map(|a| (a, &a.check)) {
            Some((account, Check::Phc(phc))) => {
                let cached = *lock(&account.cache);
                if let (Some(tag), Some(cached)) = (tag, cached)
                    && password::digests_match(&tag, &cached)
                {
                    return Verdict::Good;
                }
                (Some(phc.clone()), true)
            }
            Some((_, Check::Plain(digest))) => {
                if password::plain_matches(digest, password) {
                    return Verdict::Good;
                }
                (snapshot.dummy.clone(), false)
            }
            Some((_, Check::Invalid)) | None => {
                // Plain-text users only: do what a plain-text check does.
                std::hint::black_box(password::plain_matches(&[0; 32], password));
                (snapshot.dummy.clone(), false)
            }
        };
        let Some(phc) = phc else {
            failure.record();
            return Verdict::Bad;
        };
        let verdict = self.verify(phc, password, can_match, failure).await;
        if let (Verdict::Good, Some(account), Some(tag)) = (&verdict, account, tag) {
            *lock(&account.cache) = Some(tag);
        }
        verdict
    }

    /// Verify against a PHC string on a blocking thread, once a permit is
    /// free and the peer is still not cooling down. With `can_match` false
    /// (a dummy check) the answer is Bad whatever argon2 says. A failure is
    /// counted by the blocking thread.
    async fn verify(
        &self,
        phc: Arc<str>,
        password: &[u8],
        can_match: bool,
        failure: FailureRecord,
    ) -> Verdict {
        let Ok(permit) = self.inner.verify_permits.clone().acquire_owned().await else {
            // The semaphore is never closed; refuse rather than skip the check.
            failure.record();
            return Verdict::Bad;
        };
        // Binds queued behind a burst of failures from the same peer are
        // answered without spending argon2 on them.
        if lock(&failure.cooldowns).cooling_down(failure.peer, failure.now) {
            return Verdict::CoolDown;
        }
        let password = password.to_vec();
        let verifications = self.inner.verifications.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verifications.fetch_add(1, Ordering::Relaxed);
            let good = password::verify_phc(&phc, &password) && can_match;
            if !good {
                failure.record();
            }
            good
        })
        .await;
        match verified {
            Ok(true) => Verdict::Good,
            // A panicked check is a failed one.
            Ok(false) | Err(_) => Verdict::Bad,
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("users", &self.snapshot().accounts.len())
            .field("binds", &self.total_binds())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// The accounts of `config`, keeping from `previous` the cached
    /// password of each user whose configured password is unchanged.
    fn build(config: &Config, previous: Option<&Snapshot>) -> Snapshot {
        let accounts: HashMap<String, Arc<Account>> = config
            .users
            .iter()
            .map(|(name, user)| {
                let cached = previous
                    .and_then(|p| p.accounts.get(name))
                    .filter(|old| old.user.password == user.password)
                    .and_then(|old| *lock(&old.cache));
                let account = Account {
                    user: Arc::new(user.clone()),
                    check: Check::new(&user.password),
                    cache: Mutex::new(cached),
                };
                (name.clone(), Arc::new(account))
            })
            .collect();
        // Like the first user with a usable hash (users are in name order).
        let dummy = config
            .users
            .values()
            .find_map(|u| match &u.password {
                Password::Phc(s) => password::dummy_like(s.expose()),
                Password::Plain(_) => None,
            })
            .map(Arc::from);
        let server = &config.smpp_server;
        Snapshot {
            accounts,
            dummy,
            max_binds: usize::try_from(server.max_binds).unwrap_or(usize::MAX),
            fail_limit: server.bind_fail_limit,
            fail_cooldown: server.bind_fail_cooldown,
        }
    }
}

/// Lock, and carry on past a panic elsewhere: every critical section
/// here leaves its data consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
