//! Configuration: defaults, then a TOML file (`--config` or
//! `SKALIO_ID_CONFIG`), then environment variables prefixed `SKALIO_ID_`
//! with `__` between nested keys (`SKALIO_ID_HTTP__LISTEN`). `DATABASE_URL`
//! is honoured as well.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every setting of the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Folder for the embedded database and mail files.
    pub data_dir: PathBuf,
    /// The URL clients reach the service under; links in mail start with
    /// it. Unset: `http://` and the listen address.
    pub public_url: Option<String>,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub mail: MailSettings,
    pub auth: AuthSettings,
    pub rate_limits: RateLimitSettings,
    pub organizations: OrganizationSettings,
}

/// Defaults for organizations created by migration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrganizationSettings {
    /// Members an organization may have unless its creation says otherwise.
    pub default_member_limit: u32,
    /// Parent domain of the random hostnames given to organizations created
    /// without one; the public URL's host when unset.
    pub hostname_domain: Option<String>,
}

impl Default for OrganizationSettings {
    fn default() -> Self {
        Self {
            default_member_limit: 50,
            hostname_domain: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Unset: an embedded PostgreSQL in `data_dir`.
    pub url: Option<String>,
    pub max_connections: Option<u32>,
    /// Where to find `initdb` and `pg_ctl` for the embedded database.
    pub embedded_bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// Unset: mail is written as `.eml` files to `data_dir/mail`.
    pub smtp_url: Option<String>,
    pub from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub bcrypt_cost: u32,
    /// Concurrent bcrypt computations; 0 means one per CPU.
    pub bcrypt_workers: usize,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub id_token_ttl_secs: i64,
    pub signup_token_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub uid_token_ttl_secs: i64,
    /// How long a parked ID token may be picked up.
    pub pickup_token_ttl_secs: i64,
    pub verification_key_ttl_secs: i64,
    /// How long a secondary address may stay unverified before it is removed.
    pub unverified_address_ttl_secs: i64,
    pub password_reset_key_ttl_secs: i64,
    /// Lifetime of the ID token a password reset key is redeemed for.
    pub password_reset_token_ttl_secs: i64,
    /// How long a signing key signs before a new one takes over.
    pub key_rotation_secs: i64,
    /// How long a command waits for the read models before answering anyway.
    pub read_your_writes_timeout_ms: u64,
}

/// One leaky bucket: `capacity` drops, draining `drain_per_sec` per second.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSettings {
    pub capacity: f64,
    pub drain_per_sec: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Per email address, on login (the document: 3, one per 15 s).
    pub login: BucketSettings,
    /// Per person, on requesting and confirming address verification.
    pub email_verification: BucketSettings,
    /// Per email address, on asking for a password reset mail.
    pub password_reset: BucketSettings,
    /// Per client address, on redeeming password reset keys.
    pub password_reset_key: BucketSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            public_url: None,
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            mail: MailSettings::default(),
            auth: AuthSettings::default(),
            rate_limits: RateLimitSettings::default(),
            organizations: OrganizationSettings::default(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8080).into(),
            max_body_bytes: 64 * 1024,
        }
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Skalio ID <no-reply@skalio-id.invalid>".into(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            bcrypt_workers: 0,
            issuer: None,
            audience: None,
            id_token_ttl_secs: 30 * 24 * 3600,
            signup_token_ttl_secs: 3600,
            access_token_ttl_secs: 600,
            uid_token_ttl_secs: 365 * 24 * 3600,
            pickup_token_ttl_secs: 300,
            verification_key_ttl_secs: 3600,
            unverified_address_ttl_secs: 7 * 24 * 3600,
            password_reset_key_ttl_secs: 1800,
            password_reset_token_ttl_secs: 900,
            key_rotation_secs: 7 * 24 * 3600,
            read_your_writes_timeout_ms: 5000,
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            login: BucketSettings {
                capacity: 3.0,
                drain_per_sec: 1.0 / 15.0,
            },
            email_verification: BucketSettings {
                capacity: 1.0,
                drain_per_sec: 1.0 / 60.0,
            },
            password_reset: BucketSettings {
                capacity: 3.0,
                drain_per_sec: 1.0 / 300.0,
            },
            password_reset_key: BucketSettings {
                capacity: 10.0,
                drain_per_sec: 1.0 / 60.0,
            },
        }
    }
}

impl Settings {
    /// Reads the layered configuration.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("SKALIO_ID_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(
                Env::prefixed("SKALIO_ID_")
                    .ignore(&["CONFIG", "LOG_FORMAT"])
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            );
        figment.extract().map_err(Box::new)
    }

    /// The public URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.http.listen),
        }
    }

    /// The parent domain of generated organization hostnames.
    pub fn hostname_domain(&self) -> String {
        if let Some(domain) = &self.organizations.hostname_domain {
            return domain.clone();
        }
        let url = self.public_url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let authority = after_scheme.split('/').next().unwrap_or_default();
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host);
        host.trim_matches(['[', ']']).to_string()
    }

    /// The `iss` claim: configured, or the public URL.
    pub fn issuer(&self) -> String {
        self.auth
            .issuer
            .clone()
            .unwrap_or_else(|| self.public_url())
    }

    /// The `aud` claim: configured, or the issuer followed by `/id`.
    pub fn audience(&self) -> String {
        self.auth
            .audience
            .clone()
            .unwrap_or_else(|| format!("{}/id", self.issuer()))
    }
}

#[cfg(test)]
// figment's Jail hands its own, large error type to the closures.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "skalio.toml",
                "public_url = \"https://id.example.org\"\n[auth]\nbcrypt_cost = 10\n",
            )?;
            jail.set_env("SKALIO_ID_AUTH__BCRYPT_COST", "11");
            jail.set_env("SKALIO_ID_HTTP__LISTEN", "0.0.0.0:9000");
            jail.set_env("SKALIO_ID_RATE_LIMITS__LOGIN__CAPACITY", "5");
            jail.set_env("DATABASE_URL", "postgres://db/skalio");

            let settings = Settings::load(Some(Path::new("skalio.toml"))).expect("valid settings");

            assert_eq!(settings.public_url(), "https://id.example.org");
            assert_eq!(settings.auth.bcrypt_cost, 11);
            assert_eq!(settings.http.listen.to_string(), "0.0.0.0:9000");
            assert_eq!(settings.rate_limits.login.capacity, 5.0);
            assert_eq!(settings.rate_limits.login.drain_per_sec, 1.0 / 15.0);
            assert_eq!(
                settings.database.url.as_deref(),
                Some("postgres://db/skalio")
            );
            assert_eq!(settings.issuer(), "https://id.example.org");
            assert_eq!(settings.audience(), "https://id.example.org/id");
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("SKALIO_ID_AUTH__BCRYPT_COSTS", "11");
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }
}
