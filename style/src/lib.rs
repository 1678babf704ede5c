//! Compiles the Tailwind classes the components use into one CSS file, in pure Rust
//! (encre-css), so building the site needs no download.
use std::{fs, io, path::Path};

/// Hand-written rules that utilities cannot express, placed after the generated ones.
pub const BASE_CSS: &str = include_str!("../base.css");

/// The stylesheet for everything the given sources mention.
pub fn stylesheet<'a>(sources: impl IntoIterator<Item = &'a str>) -> String {
    let config = encre_css::Config::default();
    let mut css = encre_css::generate(sources, &config);
    css.push('\n');
    css.push_str(BASE_CSS);
    css
}

/// Reads every `.rs` file under `dir`, recursively, in a stable order.
pub fn read_sources(dir: &Path) -> io::Result<Vec<String>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    files.iter().map(fs::read_to_string).collect()
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn css_for(classes: &str) -> String {
        let source = format!(r#"view! {{ <div class="{classes}"></div> }}"#);
        stylesheet([source.as_str()])
    }

    #[test]
    fn translates_the_classes_tailwind_rs_got_wrong() {
        let css = css_for("hover:bg-indigo-500 md:flex ring-2 max-w-md");
        assert!(css.contains(".hover\\:bg-indigo-500:hover"), "hover variant");
        assert!(css.contains("@media (width >= 48rem)"), "md is 48rem (768px)");
        assert!(css.contains(".md\\:flex"), "md variant");
        assert!(css.contains(".ring-2"), "ring-2");
        assert!(css.contains("max-width: 28rem"), "max-w-md is 28rem");
    }

    #[test]
    fn svg_utilities_for_the_charts() {
        let css = css_for(
            r#"<rect class="fill-indigo-500 dark:fill-indigo-400 hover:fill-slate-400/20 fill-transparent"/><line class="stroke-slate-200"/>"#,
        );
        for rule in
            [".fill-indigo-500", ".fill-transparent", ".stroke-slate-200", ".hover\\:fill-slate-400\\/20:hover", ".dark\\:fill-indigo-400"]
        {
            assert!(css.contains(rule), "{rule} in {css}");
        }
    }

    #[test]
    fn dark_mode_follows_the_system_setting() {
        let css = css_for("dark:bg-slate-950");
        assert!(css.contains("prefers-color-scheme: dark"), "{css}");
    }

    #[test]
    fn classes_not_used_are_not_emitted() {
        let css = css_for("flex");
        assert!(css.contains(".flex"));
        assert!(!css.contains(".grid-cols-3"));
    }

    #[test]
    fn the_app_sources_compile_to_css() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
        let sources = read_sources(&dir).unwrap();
        assert!(!sources.is_empty());
        let css = stylesheet(sources.iter().map(String::as_str));
        assert!(css.contains(".bg-indigo-600"));
    }
}
