//! `gatehouse-style [SOURCE_DIR] [OUT_FILE]`: writes the site's CSS
//! (defaults: `app/src` → `style/gatehouse.css`).
use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let src = PathBuf::from(args.next().unwrap_or_else(|| "app/src".into()));
    let out = PathBuf::from(args.next().unwrap_or_else(|| "style/gatehouse.css".into()));
    let sources = match style::read_sources(&src) {
        Ok(sources) => sources,
        Err(e) => {
            eprintln!("gatehouse-style: cannot read {}: {e}", src.display());
            return ExitCode::FAILURE;
        }
    };
    let css = style::stylesheet(sources.iter().map(String::as_str));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out, &css) {
        eprintln!("gatehouse-style: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("gatehouse-style: {} bytes of CSS from {} files → {}", css.len(), sources.len(), out.display());
    ExitCode::SUCCESS
}
