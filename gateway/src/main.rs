//! `swatter-gateway`: the REST face of swatter. Configuration comes from the environment (see
//! `config.rs`); everything else lives in the library.

use std::process::ExitCode;

use swatter_common::{config::Env, telemetry};
use swatter_gateway::{config::GatewayConfig, startup::Application};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("swatter-gateway: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let env = Env::process();
    let _telemetry = telemetry::init("swatter-gateway", &env)?;
    let config = GatewayConfig::from_env(&env)?;
    Application::build(config).await?.run_until_stopped().await
}
