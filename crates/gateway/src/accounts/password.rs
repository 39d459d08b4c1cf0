//! Password checks: argon2 PHC strings, plain text, the dummy hash an
//! unknown system_id is checked against, and the keyed digest that caches
//! the last good password.
//!
//! Nothing here keeps a password: plain-text passwords are kept as their
//! BLAKE2s digest, and the cache keeps a BLAKE2s MAC under a key made at
//! start from the OS's random source, so a memory dump gives no cheaper
//! way to guess a password than the argon2 hash does.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, PasswordHash, PasswordVerifier, Salt};
use blake2::digest::{KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac256, Digest as _};
use subtle::ConstantTimeEq;

/// A 32-byte digest.
pub type Digest = [u8; 32];

/// How one user's password is checked.
pub enum Check {
    /// An argon2 PHC string, known to parse.
    Phc(std::sync::Arc<str>),
    /// Plain text, kept as its digest.
    Plain(Digest),
    /// A PHC string that does not parse: no password matches it.
    Invalid,
}

impl Check {
    /// How to check `configured`, a `[user:*] password`.
    pub fn new(configured: &crate::config::Password) -> Check {
        use crate::config::Password;
        match configured {
            Password::Phc(s) => match usable(s.expose()) {
                Some(_) => Check::Phc(s.expose().into()),
                None => Check::Invalid,
            },
            Password::Plain(s) => Check::Plain(plain_digest(s.expose().as_bytes())),
        }
    }
}

/// `phc` parsed, if it is an argon2 hash that some password could match:
/// a known variant, valid parameters, a salt and a hash.
fn usable(phc: &str) -> Option<PasswordHash<'_>> {
    let hash = PasswordHash::new(phc).ok()?;
    argon2::Algorithm::try_from(hash.algorithm).ok()?;
    argon2::Params::try_from(&hash).ok()?;
    (hash.salt.is_some() && hash.hash.is_some()).then_some(hash)
}

fn plain_digest(password: &[u8]) -> Digest {
    Blake2s256::digest(password).into()
}

/// Whether `given` is the plain-text password with digest `expected`, in
/// time that depends on neither (lengths included).
pub fn plain_matches(expected: &Digest, given: &[u8]) -> bool {
    plain_digest(given).ct_eq(expected).into()
}

/// Verify `password` against a PHC string: the slow part, for a blocking
/// thread. The hash's own parameters are used.
pub fn verify_phc(phc: &str, password: &[u8]) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => argon2::Argon2::default()
            .verify_password(password, &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A PHC string with the algorithm and parameters of `like` (so checking
/// against it costs the same) but a fixed salt and an all-zero hash, which
/// no password matches in practice. For unknown system_ids.
pub fn dummy_like(like: &str) -> Option<String> {
    const SALT: &str = "dGVybi11bmtub3duLXVzZXI";
    let hash = usable(like)?;
    let len = hash.hash.map_or(32, |o| o.len());
    let zeros = [0u8; Output::MAX_LENGTH];
    let dummy = PasswordHash {
        algorithm: hash.algorithm,
        version: hash.version,
        params: hash.params.clone(),
        salt: Some(Salt::from_b64(SALT).ok()?),
        hash: Some(Output::new(zeros.get(..len)?).ok()?),
    };
    Some(dummy.to_string())
}

/// The key of the cache's digests, made once per process.
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// A random key, or None when the OS has no randomness to give (then
    /// nothing is cached and every bind pays for argon2).
    pub fn random() -> Option<CacheKey> {
        let mut key = [0u8; 32];
        OsRng.try_fill_bytes(&mut key).ok()?;
        Some(CacheKey(key))
    }

    /// The digest of `password` for `system_id`.
    pub fn tag(&self, system_id: &[u8], password: &[u8]) -> Option<Digest> {
        let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(&self.0).ok()?;
        mac.update(&(system_id.len() as u64).to_le_bytes());
        mac.update(system_id);
        mac.update(password);
        Some(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(***)")
    }
}

/// Whether two digests are equal, in constant time.
pub fn digests_match(a: &Digest, b: &Digest) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    #[test]
    fn plain_compare() {
        let d = plain_digest(b"secret");
        assert!(plain_matches(&d, b"secret"));
        assert!(!plain_matches(&d, b"secreT"));
        assert!(!plain_matches(&d, b"secret "));
        assert!(!plain_matches(&d, b""));
    }

    #[test]
    fn dummy_has_the_same_parameters_and_matches_nothing() {
        let params = argon2::Params::new(64, 1, 1, None).expect("params");
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let phc = a.hash_password(b"pw", &salt).expect("hash").to_string();
        let dummy = dummy_like(&phc).expect("dummy");
        let (p, d) = (
            PasswordHash::new(&phc).expect("phc"),
            PasswordHash::new(&dummy).expect("dummy"),
        );
        assert_eq!(p.algorithm, d.algorithm);
        assert_eq!(p.version, d.version);
        assert_eq!(p.params, d.params);
        assert_eq!(p.hash.map(|o| o.len()), d.hash.map(|o| o.len()));
        assert!(verify_phc(&phc, b"pw"));
        assert!(!verify_phc(&dummy, b"pw"));
        assert!(!verify_phc(&dummy, b""));
        assert!(dummy_like("not a hash").is_none());
        assert!(dummy_like("$argon2id$nonsense").is_none());
        assert!(usable(&dummy).is_some());
    }

    #[test]
    fn cache_tags_depend_on_user_password_and_key() {
        let k = CacheKey::random().expect("key");
        let t = k.tag(b"alice", b"pw").expect("tag");
        assert!(digests_match(&t, &k.tag(b"alice", b"pw").expect("tag")));
        assert!(!digests_match(&t, &k.tag(b"alice", b"pW").expect("tag")));
        assert!(!digests_match(&t, &k.tag(b"bob", b"pw").expect("tag")));
        // The length prefix keeps the split between the two unambiguous.
        assert!(!digests_match(
            &k.tag(b"ab", b"c").expect("tag"),
            &k.tag(b"a", b"bc").expect("tag")
        ));
        let other = CacheKey::random().expect("key");
        assert!(!digests_match(
            &t,
            &other.tag(b"alice", b"pw").expect("tag")
        ));
        assert_eq!(format!("{k:?}"), "CacheKey(***)");
    }
}
