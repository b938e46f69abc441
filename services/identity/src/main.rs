//! `swatter-identity [serve]` runs the service; `swatter-identity keygen FILE` writes a new
//! Ed25519 signing key; `swatter-identity migrate` applies migrations and exits.

use std::process::ExitCode;

use swatter_common::{config::Env, pagination, telemetry};
use swatter_identity::{MIGRATOR, config::IdentityConfig, startup, tokens::SigningKey};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve().await,
        ["keygen", path] => keygen(path),
        ["migrate"] => migrate().await,
        _ => {
            eprintln!("usage: swatter-identity [serve | keygen FILE | migrate]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("swatter-identity: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let env = Env::process();
    let _telemetry = telemetry::init("swatter-identity", &env)?;
    let config = IdentityConfig::from_env(&env)?;
    pagination::init(&env)?;
    swatter_identity::passwords::return_hash_memory_promptly();
    startup::Application::build(config)
        .await?
        .run_until_stopped()
        .await
}

fn keygen(path: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let pem = SigningKey::generate_pem()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {path}: {e}"))?;
    file.write_all(pem.as_bytes())?;
    println!("wrote a new Ed25519 signing key to {path}");
    Ok(())
}

async fn migrate() -> anyhow::Result<()> {
    let env = Env::process();
    let url: String = env.or(
        "SWATTER_IDENTITY_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/swatter_identity".to_owned(),
    )?;
    let db = swatter_common::db::connect("SWATTER_IDENTITY_DATABASE_URL", &url, 1).await?;
    MIGRATOR.run(&db).await?;
    println!("identity migrations applied");
    Ok(())
}
