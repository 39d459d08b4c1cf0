#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// A cheap argon2id hash (the parameters travel in the string, so
/// verifying it is cheap too).
fn hash(password: &str) -> String {
    let params = argon2::Params::new(256, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    a.hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
}

static ALICE_PHC: LazyLock<String> = LazyLock::new(|| hash("alice-pw"));
static ALICE_NEW_PHC: LazyLock<String> = LazyLock::new(|| hash("alice-new"));

fn config(rest: &str) -> Config {
    let text = format!(
        "[connector:up]\nhost = 127.0.0.1\nport = 2776\nusername = u\npassword = p\n\
         [mt-route:0]\ntype = default\nconnectors = up\n{rest}"
    );
    Config::parse(&text, "test.ini", &|_| None).unwrap()
}

/// alice with a PHC password, bob with a plain one.
fn alice_and_bob(server: &str, alice: &str, bob: &str) -> Config {
    config(&format!(
        "[smpp-server]\n{server}\n\
         [user:alice]\npassword = {}\n{alice}\n\
         [user:bob]\npassword = bob-pw\n{bob}\n",
        *ALICE_PHC
    ))
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const TRX: BindMode = BindMode::Transceiver;

async fn refusal(
    a: &Accounts,
    id: &str,
    pw: &str,
    peer: IpAddr,
    mode: BindMode,
    now: Instant,
) -> BindRefusal {
    a.bind(id.as_bytes(), pw.as_bytes(), peer, mode, now)
        .await
        .expect_err("bind should be refused")
}

async fn grant(
    a: &Accounts,
    id: &str,
    pw: &str,
    peer: IpAddr,
    mode: BindMode,
    now: Instant,
) -> BindGrant {
    a.bind(id.as_bytes(), pw.as_bytes(), peer, mode, now)
        .await
        .expect("bind should be granted")
}

fn bad_credentials() -> BindRefusal {
    BindRefusal {
        status: CommandStatus::ESME_RINVPASWD,
        reason: RefusalReason::BadCredentials,
    }
}

fn bind_fail(reason: RefusalReason) -> BindRefusal {
    BindRefusal {
        status: CommandStatus::ESME_RBINDFAIL,
        reason,
    }
}

#[tokio::test]
async fn phc_password_good_and_bad() {
    let a = Accounts::new(&alice_and_bob("", "", ""));
    let now = Instant::now();
    let g = grant(&a, "alice", "alice-pw", HOME, TRX, now).await;
    assert_eq!(g.user.system_id, "alice");
    assert_eq!(g.mode, TRX);
    assert_eq!(
        refusal(&a, "alice", "alice-PW", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(
        refusal(&a, "alice", "", HOME, TRX, now).await,
        bad_credentials()
    );
}

#[tokio::test]
async fn plain_password_good_and_bad_and_listed() {
    let a = Accounts::new(&alice_and_bob("", "", ""));
    let now = Instant::now();
    let g = grant(&a, "bob", "bob-pw", HOME, TRX, now).await;
    assert_eq!(g.user.system_id, "bob");
    for wrong in ["bob-p", "bob-pw ", "BOB-PW", ""] {
        assert_eq!(
            refusal(&a, "bob", wrong, HOME, TRX, now).await,
            bad_credentials()
        );
    }
    assert_eq!(a.plain_text_users(), vec!["bob".to_string()]);
    assert!(a.bad_hash_users().is_empty());
    // No secret in Debug output.
    let shown = format!("{a:?} {g:?}");
    assert!(!shown.contains("bob-pw"), "{shown}");
    assert!(!shown.contains("argon2"), "{shown}");
}

#[tokio::test]
async fn unknown_user_is_refused_like_a_wrong_password_with_the_same_work() {
    let a = Accounts::new(&alice_and_bob("", "", ""));
    let now = Instant::now();
    assert_eq!(
        refusal(&a, "alice", "wrong", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 1);
    assert_eq!(
        refusal(&a, "mallory", "alice-pw", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 2, "unknown user: dummy hash");
    assert_eq!(
        a.bind(b"\xff\xfe", b"x", HOME, TRX, now).await.unwrap_err(),
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 3);
    // A wrong plain-text password costs the same too.
    assert_eq!(
        refusal(&a, "bob", "wrong", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 4);
    assert!(a.user("mallory").is_none());
}

#[tokio::test]
async fn unknown_user_with_only_plain_text_users() {
    let a = Accounts::new(&config("[user:bob]\npassword = bob-pw\n"));
    let now = Instant::now();
    assert_eq!(
        refusal(&a, "mallory", "bob-pw", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(
        refusal(&a, "bob", "nope", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 0);
    grant(&a, "bob", "bob-pw", HOME, TRX, now).await;
}

#[tokio::test]
async fn cache_skips_argon2_for_a_repeated_good_password() {
    let a = Accounts::new(&alice_and_bob("", "", ""));
    let now = Instant::now();
    drop(grant(&a, "alice", "alice-pw", HOME, TRX, now).await);
    assert_eq!(a.password_verifications(), 1);
    drop(grant(&a, "alice", "alice-pw", HOME, TRX, now).await);
    assert_eq!(a.password_verifications(), 1, "second good bind: cached");
    // A wrong password after a good one is still checked, and refused.
    assert_eq!(
        refusal(&a, "alice", "alice-pw2", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 2);
    assert_eq!(
        refusal(&a, "alice", "alice-pw2", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(
        a.password_verifications(),
        3,
        "a bad password is never cached"
    );
    // ... and did not evict the good one.
    drop(grant(&a, "alice", "alice-pw", HOME, TRX, now).await);
    assert_eq!(a.password_verifications(), 3);
}

#[tokio::test]
async fn cool_down_after_repeated_failures_from_one_ip() {
    let cfg = alice_and_bob("bind_fail_limit = 3\nbind_fail_cooldown = 30", "", "");
    let a = Accounts::new(&cfg);
    let t0 = Instant::now();
    let attacker = ip(198, 51, 100, 7);
    for _ in 0..3 {
        assert_eq!(
            refusal(&a, "alice", "guess", attacker, TRX, t0).await,
            bad_credentials()
        );
    }
    let spent = a.password_verifications();
    assert_eq!(spent, 3);
    // Even the right password is refused now, and unchecked.
    assert_eq!(
        refusal(&a, "alice", "alice-pw", attacker, TRX, t0).await,
        bind_fail(RefusalReason::CoolDown)
    );
    assert_eq!(
        refusal(
            &a,
            "mallory",
            "x",
            attacker,
            TRX,
            t0 + Duration::from_secs(29)
        )
        .await,
        bind_fail(RefusalReason::CoolDown)
    );
    assert_eq!(
        a.password_verifications(),
        spent,
        "no argon2 in a cool-down"
    );
    // Other addresses are unaffected.
    grant(&a, "alice", "alice-pw", HOME, TRX, t0).await;
    // It ends after the cool-down.
    grant(
        &a,
        "alice",
        "alice-pw",
        attacker,
        TRX,
        t0 + Duration::from_secs(30),
    )
    .await;
}

#[tokio::test]
async fn failures_spread_beyond_a_minute_and_other_refusals_do_not_cool_down() {
    let cfg = alice_and_bob(
        "bind_fail_limit = 2\nbind_fail_cooldown = 30",
        "",
        "bind_modes = tx",
    );
    let a = Accounts::new(&cfg);
    let t0 = Instant::now();
    assert_eq!(
        refusal(&a, "bob", "x", HOME, TRX, t0).await,
        bad_credentials()
    );
    assert_eq!(
        refusal(&a, "bob", "x", HOME, TRX, t0 + Duration::from_secs(60)).await,
        bad_credentials()
    );
    // Refusals other than bad credentials are not failures.
    for _ in 0..5 {
        assert_eq!(
            refusal(&a, "bob", "bob-pw", HOME, TRX, t0 + Duration::from_secs(61)).await,
            bind_fail(RefusalReason::ModeNotAllowed)
        );
    }
    grant(
        &a,
        "bob",
        "bob-pw",
        HOME,
        BindMode::Transmitter,
        t0 + Duration::from_secs(61),
    )
    .await;
}

#[tokio::test]
async fn a_burst_of_bad_binds_spends_little_argon2() {
    let cfg = alice_and_bob("bind_fail_limit = 2\nbind_fail_cooldown = 60", "", "");
    let a = Accounts::new(&cfg);
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let a = a.clone();
        set.spawn(async move { a.bind(b"alice", b"guess", HOME, TRX, t0).await.map(|_| ()) });
    }
    let mut cooled = 0;
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Err(r) if r.reason == RefusalReason::CoolDown => cooled += 1,
            Err(r) => assert_eq!(r, bad_credentials()),
            Ok(()) => panic!("granted a bad password"),
        }
    }
    let permits = std::thread::available_parallelism().map_or(2, std::num::NonZero::get) as u64;
    let spent = a.password_verifications();
    assert!(spent <= 2 + permits, "{spent} verifications");
    assert_eq!(cooled, 12 - spent);
}

#[tokio::test]
async fn bind_modes_are_checked() {
    let a = Accounts::new(&alice_and_bob("", "", "bind_modes = tx, rx"));
    let now = Instant::now();
    grant(&a, "bob", "bob-pw", HOME, BindMode::Transmitter, now).await;
    grant(&a, "bob", "bob-pw", HOME, BindMode::Receiver, now).await;
    assert_eq!(
        refusal(&a, "bob", "bob-pw", HOME, TRX, now).await,
        bind_fail(RefusalReason::ModeNotAllowed)
    );
    // Credentials come first.
    assert_eq!(
        refusal(&a, "bob", "nope", HOME, TRX, now).await,
        bad_credentials()
    );
}

#[tokio::test]
async fn allowed_ips_with_ipv4_and_ipv6_blocks() {
    let a = Accounts::new(&alice_and_bob(
        "",
        "",
        "allowed_ips = 10.0.0.0/8, 2001:db8::/32, 203.0.113.5",
    ));
    let now = Instant::now();
    let v6 = |s: &str| IpAddr::V6(s.parse::<Ipv6Addr>().unwrap());
    for ok in [
        ip(10, 1, 2, 3),
        ip(203, 0, 113, 5),
        v6("2001:db8::1"),
        v6("2001:db8:ffff::9"),
        v6("::ffff:10.9.9.9"),
    ] {
        grant(&a, "bob", "bob-pw", ok, TRX, now).await;
    }
    for refused in [
        ip(11, 0, 0, 1),
        ip(203, 0, 113, 6),
        v6("2001:db9::1"),
        v6("::1"),
    ] {
        assert_eq!(
            refusal(&a, "bob", "bob-pw", refused, TRX, now).await,
            bind_fail(RefusalReason::IpNotAllowed),
            "{refused}"
        );
    }
    // A wrong password from outside is still a wrong password.
    assert_eq!(
        refusal(&a, "bob", "x", ip(11, 0, 0, 1), TRX, now).await,
        bad_credentials()
    );
}

#[tokio::test]
async fn user_max_binds_and_slots_freed_on_drop() {
    let a = Accounts::new(&alice_and_bob("", "", "max_binds = 2"));
    let now = Instant::now();
    let g1 = grant(&a, "bob", "bob-pw", HOME, TRX, now).await;
    let g2 = grant(&a, "bob", "bob-pw", HOME, BindMode::Receiver, now).await;
    assert_eq!(a.binds("bob"), 2);
    assert_eq!(
        refusal(&a, "bob", "bob-pw", HOME, TRX, now).await,
        bind_fail(RefusalReason::UserMaxBinds)
    );
    // Another user is not limited by bob's binds.
    let g3 = grant(&a, "alice", "alice-pw", HOME, TRX, now).await;
    assert_eq!(a.total_binds(), 3);
    drop(g1);
    assert_eq!(a.binds("bob"), 1);
    let g4 = grant(&a, "bob", "bob-pw", HOME, TRX, now).await;
    drop((g2, g3, g4));
    assert_eq!(a.binds("bob"), 0);
    assert_eq!(a.binds("alice"), 0);
    assert_eq!(a.total_binds(), 0);
}

#[tokio::test]
async fn server_max_binds() {
    let a = Accounts::new(&alice_and_bob("max_binds = 2", "", ""));
    let now = Instant::now();
    let g1 = grant(&a, "bob", "bob-pw", HOME, TRX, now).await;
    let _g2 = grant(&a, "alice", "alice-pw", HOME, TRX, now).await;
    assert_eq!(
        refusal(&a, "bob", "bob-pw", HOME, TRX, now).await,
        bind_fail(RefusalReason::ServerMaxBinds)
    );
    assert_eq!(
        refusal(&a, "alice", "alice-pw", HOME, TRX, now).await,
        bind_fail(RefusalReason::ServerMaxBinds)
    );
    drop(g1);
    grant(&a, "alice", "alice-pw", HOME, TRX, now).await;
}

#[tokio::test]
async fn reload_keeps_counts_and_invalidates_a_changed_password() {
    let a = Accounts::new(&alice_and_bob("", "max_binds = 2", ""));
    let now = Instant::now();
    let g1 = grant(&a, "alice", "alice-pw", HOME, TRX, now).await;
    assert_eq!(a.password_verifications(), 1);

    // The same file again: counts and cache stay.
    a.reload(&alice_and_bob("", "max_binds = 2", ""));
    assert_eq!(a.binds("alice"), 1);
    let g2 = grant(&a, "alice", "alice-pw", HOME, TRX, now).await;
    assert_eq!(a.password_verifications(), 1, "cache kept");
    assert_eq!(
        refusal(&a, "alice", "alice-pw", HOME, TRX, now).await,
        bind_fail(RefusalReason::UserMaxBinds)
    );
    drop(g2);

    // A new password: the old one no longer binds, even from the cache.
    a.reload(&config(&format!(
        "[user:alice]\npassword = {}\nmax_binds = 3\n",
        *ALICE_NEW_PHC
    )));
    assert_eq!(a.binds("alice"), 1, "live bind still counted");
    assert_eq!(a.user("alice").unwrap().max_binds, 3);
    assert_eq!(
        refusal(&a, "alice", "alice-pw", HOME, TRX, now).await,
        bad_credentials()
    );
    assert_eq!(a.password_verifications(), 2);
    let g3 = grant(&a, "alice", "alice-new", HOME, TRX, now).await;
    assert_eq!(a.binds("alice"), 2);
    assert_eq!(a.user("bob").map(|u| u.system_id.clone()), None);
    assert!(a.plain_text_users().is_empty());

    // A user removed with binds live: they are told to close, and end
    // cleanly.
    let removed = g1.removed();
    assert!(!*removed.borrow());
    a.reload(&config("[user:bob]\npassword = bob-pw\n"));
    assert!(*removed.borrow());
    assert!(*g3.removed().borrow());
    assert_eq!(a.binds("alice"), 2);
    drop((g1, g3));
    assert_eq!(a.binds("alice"), 0);
    assert_eq!(a.total_binds(), 0);
}

#[tokio::test]
async fn cool_down_is_checked_before_everything() {
    let cfg = alice_and_bob(
        "bind_fail_limit = 1\nbind_fail_cooldown = 10",
        "",
        "bind_modes = tx\nallowed_ips = 10.0.0.0/8",
    );
    let a = Accounts::new(&cfg);
    let t0 = Instant::now();
    assert_eq!(
        refusal(&a, "bob", "x", HOME, TRX, t0).await,
        bad_credentials()
    );
    assert_eq!(
        refusal(&a, "bob", "x", HOME, TRX, t0).await,
        bind_fail(RefusalReason::CoolDown)
    );
}

#[tokio::test]
async fn a_malformed_hash_never_binds() {
    let a = Accounts::new(&config("[user:carol]\npassword = $argon2id$nonsense\n"));
    assert_eq!(a.bad_hash_users(), vec!["carol".to_string()]);
    assert_eq!(
        refusal(&a, "carol", "$argon2id$nonsense", HOME, TRX, Instant::now()).await,
        bad_credentials()
    );
}

#[test]
fn reasons_statuses_and_labels() {
    use RefusalReason::*;
    let all = [
        (CoolDown, "cooldown", CommandStatus::ESME_RBINDFAIL),
        (BadCredentials, "credentials", CommandStatus::ESME_RINVPASWD),
        (ModeNotAllowed, "mode", CommandStatus::ESME_RBINDFAIL),
        (IpNotAllowed, "ip", CommandStatus::ESME_RBINDFAIL),
        (
            UserMaxBinds,
            "user_max_binds",
            CommandStatus::ESME_RBINDFAIL,
        ),
        (
            ServerMaxBinds,
            "server_max_binds",
            CommandStatus::ESME_RBINDFAIL,
        ),
    ];
    for (reason, label, status) in all {
        assert_eq!(reason.as_str(), label);
        assert_eq!(BindRefusal::from(reason).status, status);
        assert_eq!(
            BindRefusal::from(reason).to_string(),
            format!("bind refused: {label}")
        );
    }
}

/// The HTTP API's check: credentials, cool-down and allowed_ips as a
/// bind's, shared with binds, and no bind slot held.
#[tokio::test]
async fn authenticate_checks_what_a_bind_checks_and_holds_no_slot() {
    let cfg = alice_and_bob(
        "bind_fail_limit = 2\nbind_fail_cooldown = 30",
        "max_binds = 1",
        "allowed_ips = 10.0.0.0/8",
    );
    let a = Accounts::new(&cfg);
    let t0 = Instant::now();
    let u = a
        .authenticate(b"alice", b"alice-pw", HOME, t0)
        .await
        .unwrap();
    assert_eq!(u.system_id, "alice");
    assert_eq!(a.binds("alice"), 0);
    // Authenticated requests do not use up max_binds.
    let _g = grant(&a, "alice", "alice-pw", HOME, TRX, t0).await;
    assert!(
        a.authenticate(b"alice", b"alice-pw", HOME, t0)
            .await
            .is_ok()
    );
    // bob only from 10/8.
    assert_eq!(
        a.authenticate(b"bob", b"bob-pw", HOME, t0)
            .await
            .unwrap_err(),
        bind_fail(RefusalReason::IpNotAllowed)
    );
    assert!(
        a.authenticate(b"bob", b"bob-pw", ip(10, 1, 2, 3), t0)
            .await
            .is_ok()
    );
    // Failures count toward the peer's cool-down, shared with binds.
    let attacker = ip(198, 51, 100, 9);
    for who in ["nobody", "alice"] {
        assert_eq!(
            a.authenticate(who.as_bytes(), b"guess", attacker, t0)
                .await
                .unwrap_err(),
            bad_credentials()
        );
    }
    assert_eq!(
        refusal(&a, "alice", "alice-pw", attacker, TRX, t0).await,
        bind_fail(RefusalReason::CoolDown)
    );
    assert_eq!(
        a.authenticate(b"alice", b"alice-pw", attacker, t0)
            .await
            .unwrap_err(),
        bind_fail(RefusalReason::CoolDown)
    );
}
