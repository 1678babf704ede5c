use std::process::ExitCode;

use clap::Parser;

use gatehouse::{
    Application, Config,
    cli::{self, Cli, Command},
    db,
    startup::shutdown_signal,
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("gatehouse: the configuration is not valid: {err}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, Command::Serve | Command::Migrate | Command::DemoMcp { .. });
    // Operator commands print their answer; their logs would only be noise on stderr.
    telemetry::init(config.log_format, if serving { &config.log_level } else { "warn" }, !serving);
    let outcome = match cli.command {
        Command::Serve => match Application::build(config).await {
            Ok(app) => app.run_until_stopped(shutdown_signal()).await,
            Err(err) => Err(err),
        },
        Command::DemoMcp { bind } => gatehouse::demo_mcp::serve(bind).await,
        Command::Migrate => migrate(&config).await,
        command => {
            return match cli::run(command, &config, cli.json).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    if !err.message.is_empty() {
                        eprintln!("gatehouse: {}", err.message);
                    }
                    err.exit_code()
                }
            };
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = db::connect(&config.database_url, 1).await?;
    db::migrate(&db).await?;
    tracing::info!(database = %db::redact(&config.database_url), "migrations applied");
    Ok(())
}
