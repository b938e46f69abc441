//! `swatter-reporting [serve]` runs the API with the worker; `swatter-reporting api` the API
//! without rendering; `swatter-reporting migrate` applies migrations and exits.

use std::process::ExitCode;

use swatter_common::{config::Env, pagination, telemetry};
use swatter_reporting::{
    MIGRATOR,
    config::ReportingConfig,
    startup::{Application, Mode},
};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] | ["worker"] => serve(Mode::WithWorker).await,
        ["api"] => serve(Mode::Api).await,
        ["migrate"] => migrate().await,
        _ => {
            eprintln!("usage: swatter-reporting [serve | worker | api | migrate]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("swatter-reporting: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mode: Mode) -> anyhow::Result<()> {
    let env = Env::process();
    let _telemetry = telemetry::init("swatter-reporting", &env)?;
    let config = ReportingConfig::from_env(&env)?;
    pagination::init(&env)?;
    Application::build(config, mode)
        .await?
        .run_until_stopped()
        .await
}

async fn migrate() -> anyhow::Result<()> {
    let env = Env::process();
    let url: String = env.or(
        "SWATTER_REPORTING_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/swatter_reporting".to_owned(),
    )?;
    let db = swatter_common::db::connect("SWATTER_REPORTING_DATABASE_URL", &url, 1).await?;
    MIGRATOR.run(&db).await?;
    println!("reporting migrations applied");
    Ok(())
}
