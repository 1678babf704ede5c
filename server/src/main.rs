use clap::Parser;

use gatehouse::{
    Application, Config,
    cli::{Cli, Command},
    db,
    startup::shutdown_signal,
    telemetry,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(config.log_format, &config.log_level);
    match cli.command {
        Command::Serve => {
            let app = Application::build(config).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::DemoMcp { bind } => gatehouse::demo_mcp::serve(bind).await,
        Command::Migrate => {
            let db = db::connect(&config.database_url, 1).await?;
            db::migrate(&db).await?;
            tracing::info!(database = %db::redact(&config.database_url), "migrations applied");
            Ok(())
        }
    }
}
