//! `swatter-issues [serve]` runs the service; `swatter-issues migrate` applies migrations and exits.

use std::process::ExitCode;

use swatter_common::{config::Env, pagination, telemetry};
use swatter_issues::{MIGRATOR, config::IssuesConfig, startup::Application};

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
        ["migrate"] => migrate().await,
        _ => {
            eprintln!("usage: swatter-issues [serve | migrate]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("swatter-issues: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let env = Env::process();
    let _telemetry = telemetry::init("swatter-issues", &env)?;
    let config = IssuesConfig::from_env(&env)?;
    pagination::init(&env)?;
    Application::build(config).await?.run_until_stopped().await
}

async fn migrate() -> anyhow::Result<()> {
    let config = IssuesConfig::from_env(&Env::process())?;
    let db =
        swatter_common::db::connect("SWATTER_ISSUES_DATABASE_URL", &config.database_url, 1).await?;
    MIGRATOR.run(&db).await?;
    println!("issues migrations applied");
    Ok(())
}
